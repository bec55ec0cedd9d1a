import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable } from '../support/browser.js';

/** Records every Content-Security-Policy violation the page reports, from its first script on. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__cspViolation', (v: string) => violations.push(v));
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`,
  });
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

describe.runIf(browserAvailable)('the app under its Content-Security-Policy (issue 16, defect 5)', () => {
  const app = appInBrowser();

  it('loads, signs up, chats and opens the metrics overlay with no CSP violation', async () => {
    const context = await app.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const violations = await watchViolations(page);
    const response = await page.goto(app.server.url);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.getByTestId('auth-username').fill('cspuser');
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('online');
    await page.getByTestId('message-input').fill('under the policy');
    await page.getByTestId('message-send').click();
    await expect.poll(() => page.getByTestId('message').first().getAttribute('data-pending')).toBe('false');
    await page.keyboard.press('Alt+m');
    await page.waitForTimeout(500);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('Swagger UI at /api/docs renders with no CSP violation', async () => {
    const page = await app.browser.newPage();
    const violations = await watchViolations(page);
    await page.goto(`${app.server.url}/api/docs`);
    await expect.poll(() => page.locator('.swagger-ui .info .title').textContent(), { timeout: 10_000 }).toContain('Realtime reference API');
    await expect.poll(() => page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(violations).toEqual([]);
    await page.close();
  });

  it('another site cannot frame the app', async () => {
    // A page on another origin (another port), framing the app.
    const framer = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe src="${app.server.url}/"></iframe>`));
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    const page = await app.browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`);
      await page.waitForTimeout(1500);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      expect(frame).toBeDefined();
      // Refused: Chromium shows its error page in the frame instead of the app.
      expect(frame!.url()).toBe('chrome-error://chromewebdata/');
      expect(await frame!.locator('#app').count()).toBe(0);
    } finally {
      await page.close();
      framer.close();
    }
  });
});

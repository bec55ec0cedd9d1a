import { api, ApiError, type Credentials, type SessionAnswer, type User } from './api';

/** Renew when this share of the remaining lifetime has passed (docs/protocol.md: 80%). */
const RENEW_AT = 0.8;
/** Never renew more often than this, whatever the clocks say. */
const MIN_RENEW_DELAY_MS = 1_000;
/** After a renewal that failed for a reason other than 401 (server unreachable), try again. */
const RENEW_RETRY_MS = 15_000;
/** setTimeout's limit (2^31 - 1 ms, about 24.8 days); a longer wait is armed in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Who is signed in. The session itself is the HttpOnly `session` cookie; this only mirrors it,
 * and keeps it alive: a renewal (`POST /api/auth/refresh`) is scheduled at 80% of the remaining
 * lifetime, and a refused renewal (401) signs the user out here too.
 */
export class Session {
  #user = $state.raw<User | null>(null);
  #expiresAt = $state<number | null>(null);
  #loading = $state(true);
  #loadError = $state<string | null>(null);

  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Local clock (epoch ms) at which the scheduled renewal is due. */
  #renewDueAt = 0;
  #renewing: Promise<boolean> | null = null;
  /** Bumped on every sign-in and sign-out, so a late answer for an older session is ignored. */
  #epoch = 0;

  get user(): User | null {
    return this.#user;
  }

  /** When the session token expires (epoch ms, server clock), or null if unknown. */
  get expiresAt(): number | null {
    return this.#expiresAt;
  }

  /** True until the first `load()` has answered. */
  get loading(): boolean {
    return this.#loading;
  }

  /** Set when `load()` failed for a reason other than "not signed in" (server down, say). */
  get loadError(): string | null {
    return this.#loadError;
  }

  async load(): Promise<void> {
    this.#loading = true;
    this.#loadError = null;
    const epoch = ++this.#epoch;
    try {
      const answer = await api.me();
      if (epoch === this.#epoch) this.#accept(answer);
    } catch (err) {
      if (epoch === this.#epoch) this.#forget();
      if (!(err instanceof ApiError && err.status === 401)) {
        this.#loadError = err instanceof Error ? err.message : String(err);
      }
    } finally {
      this.#loading = false;
    }
  }

  /** Throws `ApiError` with the server's message on failure. */
  async login(credentials: Credentials): Promise<void> {
    const epoch = ++this.#epoch;
    const answer = await api.login(credentials);
    if (epoch === this.#epoch) this.#accept(answer);
  }

  /** Throws `ApiError` with the server's message on failure. */
  async register(credentials: Credentials): Promise<void> {
    const epoch = ++this.#epoch;
    const answer = await api.register(credentials);
    if (epoch === this.#epoch) this.#accept(answer);
  }

  async logout(): Promise<void> {
    this.#epoch += 1;
    try {
      await api.logout();
    } finally {
      // Signed out locally even if the request failed: the UI must not keep showing the account.
      this.#forget();
    }
  }

  /**
   * Renew the session now. Resolves true when it was renewed; false when it could not be, and
   * then, if the server refused (401: expired or invalid), the user is signed out here as well.
   * Concurrent calls share one request.
   */
  refresh(): Promise<boolean> {
    if (!this.#user) return Promise.resolve(false);
    if (this.#renewing) return this.#renewing;
    const epoch = this.#epoch;
    const run = async (): Promise<boolean> => {
      try {
        const answer = await api.refresh();
        if (epoch !== this.#epoch) return false;
        this.#accept(answer);
        return true;
      } catch (err) {
        if (epoch !== this.#epoch) return false;
        if (err instanceof ApiError && err.status === 401) {
          this.#forget();
        } else {
          // Unreachable or failing server: the token may still be good for a while; try again.
          this.#armRenewal(Date.now() + RENEW_RETRY_MS);
        }
        return false;
      }
    };
    const renewing = run().finally(() => {
      if (this.#renewing === renewing) this.#renewing = null;
    });
    this.#renewing = renewing;
    return renewing;
  }

  #accept(answer: SessionAnswer): void {
    this.#user = answer.user;
    this.#expiresAt = answer.expiresAt;
    if (answer.expiresAt === null) {
      this.#cancelRenewal();
      return;
    }
    // `expiresAt` is on the server's clock; read it against ours corrected by the Date header,
    // so a client clock that is off by more than the lifetime does not renew in a loop.
    const remaining = answer.expiresAt - (Date.now() + answer.clockSkewMs);
    this.#armRenewal(Date.now() + Math.max(MIN_RENEW_DELAY_MS, remaining * RENEW_AT));
  }

  #forget(): void {
    this.#cancelRenewal();
    this.#user = null;
    this.#expiresAt = null;
  }

  #armRenewal(dueAt: number): void {
    this.#renewDueAt = dueAt;
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#renewTimer);
    const wait = Math.min(MAX_TIMEOUT_MS, Math.max(0, this.#renewDueAt - Date.now()));
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = undefined;
      // A wait longer than setTimeout allows is armed again for the rest.
      if (Date.now() < this.#renewDueAt - 1) this.#arm();
      else void this.refresh();
    }, wait);
  }

  #cancelRenewal(): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
  }
}

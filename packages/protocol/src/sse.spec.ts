import { describe, expect, it } from 'vitest';
import { encodeSse, sseIdLine } from './sse.js';

/**
 * What a reader makes of a stream's text, per the spec's "interpret the event stream"
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines split at CRLF, CR or LF; one space after the colon stripped; `data` lines joined with LF.
 */
function interpret(text: string): { id?: string; event: string; data: string }[] {
  const events: { id?: string; event: string; data: string }[] = [];
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length > 0) events.push({ ...(id === undefined ? {} : { id }), event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') data.push(value);
    else if (name === 'event') event = value;
    else if (name === 'id' && !value.includes('\0')) id = value;
  }
  return events;
}

describe('encodeSse', () => {
  it('writes the bytes the streams have always sent', () => {
    expect(encodeSse({ id: 12, data: '["mention",1,"t","b"]' })).toBe('id: 12\ndata: ["mention",1,"t","b"]\n\n');
    expect(encodeSse({ id: 'notifications=12,blog:3=40', event: 'reset', data: '{}' })).toBe('id: notifications=12,blog:3=40\nevent: reset\ndata: {}\n\n');
    expect(encodeSse({ event: 'hello', data: '{"connectionId":"a-s1"}' })).toBe('event: hello\ndata: {"connectionId":"a-s1"}\n\n');
    expect(encodeSse({ retry: 1000 })).toBe('retry: 1000\n\n');
    expect(encodeSse({ comment: 'heartbeat' })).toBe(': heartbeat\n\n');
  });

  it('writes the fields in the order comment, retry, id, event, data', () => {
    expect(encodeSse({ data: 'd', event: 'e', id: 1, retry: 5, comment: 'c' })).toBe(': c\nretry: 5\nid: 1\nevent: e\ndata: d\n\n');
  });

  it('splits data at every kind of line break into data lines a reader joins back with LF', () => {
    const text = encodeSse({ event: 'x', data: 'one\ntwo\r\nthree\rfour' });
    expect(text).toBe('event: x\ndata: one\ndata: two\ndata: three\ndata: four\n\n');
    expect(interpret(text)).toEqual([{ event: 'x', data: 'one\ntwo\nthree\nfour' }]);
  });

  it('keeps empty lines of data, and a data that is only a line break, as data', () => {
    expect(interpret(encodeSse({ data: 'a\n\nb' }))).toEqual([{ event: 'message', data: 'a\n\nb' }]);
    expect(interpret(encodeSse({ data: '\n' }))).toEqual([{ event: 'message', data: '\n' }]);
    expect(interpret(encodeSse({ data: '' }))).toEqual([{ event: 'message', data: '' }]);
  });

  it('keeps a leading space of the value: the reader strips only the one after the colon', () => {
    expect(interpret(encodeSse({ event: ' spaced', data: '  two' }))).toEqual([{ event: ' spaced', data: '  two' }]);
  });

  it('strips CR and LF from id, event and comment so none can end its field or the event early', () => {
    const text = encodeSse({ id: '1\r\ndata: forged\n\n', event: 'a\nevent: b', comment: 'x\n\ndata: forged', data: 'real' });
    expect(text).toBe(': xdata: forged\nid: 1data: forged\nevent: aevent: b\ndata: real\n\n');
    expect(interpret(text)).toEqual([{ id: '1data: forged', event: 'aevent: b', data: 'real' }]);
  });

  it('strips NUL from an id, which a reader would otherwise ignore', () => {
    expect(sseIdLine('a\0b')).toBe('id: ab\n');
    expect(interpret(encodeSse({ id: 'a\0b', data: '1' }))[0]!.id).toBe('ab');
  });

  it('refuses a retry that is not a non-negative integer (a reader would ignore it)', () => {
    for (const retry of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => encodeSse({ retry })).toThrow(RangeError);
    expect(encodeSse({ retry: 0 })).toBe('retry: 0\n\n');
  });
});

describe('sseIdLine', () => {
  it('is the id field alone, for a stream that writes its own id before shared event text', () => {
    expect(sseIdLine(40)).toBe('id: 40\n');
    expect(sseIdLine('notifications=12,blog:3=40') + encodeSse({ event: 'update', data: '[1]' })).toBe(
      encodeSse({ id: 'notifications=12,blog:3=40', event: 'update', data: '[1]' }),
    );
  });
});

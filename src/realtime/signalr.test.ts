import { describe, expect, it } from 'vitest';
import {
  closeMessage,
  completionMessage,
  frame,
  handshakeResponse,
  invocationMessage,
  parseHandshake,
  parseRecords,
  pingMessage,
  RECORD_SEPARATOR,
} from './signalr.js';

describe('SignalR JSON hub protocol framing', () => {
  it('frames records with 0x1E and splits several records of one frame', () => {
    expect(frame({ type: 6 })).toBe('{"type":6}\u001e');
    expect(RECORD_SEPARATOR.charCodeAt(0)).toBe(0x1e);
    expect(parseRecords('{"type":6}\u001e{"type":1,"target":"x","arguments":[]}\u001e')).toEqual([
      { type: 6 },
      { type: 1, target: 'x', arguments: [] },
    ]);
    expect(() => parseRecords('{"type":6}')).toThrow(/incomplete/);
    expect(() => parseRecords('[1]\u001e')).toThrow(/object/);
    expect(() => parseRecords('{nope\u001e')).toThrow();
  });

  it('handshake: json version 1 only; what follows in the frame is kept', () => {
    expect(parseHandshake('{"protocol":"json","version":1}\u001e')).toEqual({ error: null, rest: '' });
    expect(parseHandshake('{"protocol":"json","version":1}\u001e{"type":6}\u001e')).toEqual({
      error: null,
      rest: '{"type":6}\u001e',
    });
    expect(parseHandshake('{"protocol":"messagepack","version":1}\u001e').error).toMatch(/not supported/);
    expect(parseHandshake('{"protocol":"json","version":2}\u001e').error).toMatch(/version 2/);
    expect(parseHandshake('{"protocol":"json"').error).toMatch(/incomplete/);
    expect(handshakeResponse(null)).toBe('{}\u001e');
    expect(handshakeResponse('bad')).toBe('{"error":"bad"}\u001e');
  });

  it('server messages', () => {
    expect(pingMessage()).toBe('{"type":6}\u001e');
    expect(closeMessage()).toBe('{"type":7}\u001e');
    expect(closeMessage('gone', true)).toBe('{"type":7,"error":"gone","allowReconnect":true}\u001e');
    expect(invocationMessage('MessageReceived', [{ data: { a: 1 } }])).toBe(
      '{"type":1,"target":"MessageReceived","arguments":[{"data":{"a":1}}]}\u001e',
    );
    expect(completionMessage('1', { result: 3 })).toBe('{"type":3,"invocationId":"1","result":3}\u001e');
    expect(completionMessage('2', { error: 'no' })).toBe('{"type":3,"invocationId":"2","error":"no"}\u001e');
  });
});

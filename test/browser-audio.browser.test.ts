/**
 * The browser audio helpers, for real and without SIP: Chromium's fake microphone plays a tone
 * WAV, two RTCPeerConnections in one page carry it to each other (host candidates only, no STUN),
 * and the in-page probe hears the tone on the receiving side.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWav, dominantTone } from '../src/testing/audio.js';
import { openRecordingPage, serveTestPage, type TestPageServer } from './support/browser.js';
import {
  captureAudio,
  launchChromiumWithTone,
  measureTone,
  type ToneBrowser,
  waitForTone,
} from './support/browser-audio.js';

const CANDIDATES = [500, 1000];

declare global {
  interface Window {
    loopback?: { sender: RTCPeerConnection; receiver: RTCPeerConnection; microphone: MediaStream };
  }
}

describe('browser audio', () => {
  let toneBrowser: ToneBrowser;
  let server: TestPageServer;

  beforeAll(async () => {
    [toneBrowser, server] = await Promise.all([launchChromiumWithTone(1000), serveTestPage()]);
  });

  afterAll(async () => {
    await toneBrowser?.close();
    await server?.close();
  });

  it('writes a looping 1 kHz WAV for the fake microphone', async () => {
    const wav = decodeWav(await readFile(toneBrowser.wavPath));
    expect(wav.sampleRate).toBe(48000);
    expect(wav.channels).toHaveLength(1);
    const samples = wav.channels[0]!;
    expect(samples.length % 48).toBe(0); // whole 1 kHz cycles: no click where it loops
    expect(dominantTone(samples, 48000, CANDIDATES).frequency).toBe(1000);
  });

  it('hears the 1 kHz microphone tone across a loopback peer connection', async () => {
    const { context, page, errors } = await openRecordingPage(toneBrowser.browser);
    try {
      await page.goto(server.url);
      await page.evaluate(async () => {
        const microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
        const sender = new RTCPeerConnection({ iceServers: [] });
        const receiver = new RTCPeerConnection({ iceServers: [] });
        sender.onicecandidate = (event) => {
          if (event.candidate) receiver.addIceCandidate(event.candidate).catch(() => {});
        };
        receiver.onicecandidate = (event) => {
          if (event.candidate) sender.addIceCandidate(event.candidate).catch(() => {});
        };
        for (const track of microphone.getAudioTracks()) sender.addTrack(track, microphone);
        await sender.setLocalDescription(await sender.createOffer());
        await receiver.setRemoteDescription(sender.localDescription!);
        await receiver.setLocalDescription(await receiver.createAnswer());
        await sender.setRemoteDescription(receiver.localDescription!);
        window.loopback = { sender, receiver, microphone };
      });
      await page.waitForFunction(() => window.loopback?.receiver.connectionState === 'connected', undefined, {
        timeout: 5000,
        polling: 25,
      });

      const heard = await waitForTone(page, 'window.loopback.receiver', 1000, CANDIDATES, {
        timeoutMs: 5000,
      });
      expect(heard.frequency).toBe(1000);
      expect(heard.relativePower).toBeGreaterThan(0.7); // the microphone's gain control moves the level
      expect(heard.marginDb).toBeGreaterThan(20);
      expect(heard.candidates.find((c) => c.frequency === 500)!.relativePower).toBeLessThan(0.01);
      expect(heard.signalDbfs).toBeGreaterThan(-40);
      expect(heard.trackMuted).toBe(false);
      // The tone arrived over RTP: the receiver counted the packets.
      const packetsReceived = await page.evaluate(async () => {
        const stats = await window.loopback!.receiver.getStats();
        let packets = 0;
        stats.forEach((report) => {
          if (report.type === 'inbound-rtp' && report.kind === 'audio') packets += report.packetsReceived;
        });
        return packets;
      });
      expect(packetsReceived).toBeGreaterThan(10);

      // The same probe on the microphone stream itself, and again on the receiver (its tap is reused).
      const local = await measureTone(page, 'window.loopback.microphone', CANDIDATES);
      expect(local.frequency).toBe(1000);
      const again = await captureAudio(page, 'window.loopback.receiver', { windowMs: 200 });
      expect(again.trackId).toBe(heard.trackId);
      expect(again.samples.length).toBe(Math.round(0.2 * again.sampleRate));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says what is missing when the expression finds no peer connection', async () => {
    const { context, page } = await openRecordingPage(toneBrowser.browser);
    try {
      await page.goto(server.url);
      await expect(measureTone(page, 'window.noSuchPeerConnection', CANDIDATES)).rejects.toThrow(
        /gave no peer connection or stream/,
      );
      await expect(measureTone(page, 'new RTCPeerConnection()', CANDIDATES)).rejects.toThrow(
        /no live audio track/,
      );
    } finally {
      await context.close();
    }
  });
});

describe('a browser per tone', () => {
  it('gives a second browser its own 500 Hz microphone', async () => {
    const browser500 = await launchChromiumWithTone(500);
    const server = await serveTestPage();
    try {
      const { page } = await openRecordingPage(browser500.browser);
      await page.goto(server.url);
      await page.evaluate(async () => {
        const microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
        (window as unknown as { microphone: MediaStream }).microphone = microphone;
      });
      const heard = await waitForTone(page, 'window.microphone', 500, CANDIDATES, { timeoutMs: 5000 });
      expect(heard.candidates.find((c) => c.frequency === 1000)!.relativePower).toBeLessThan(0.01);
    } finally {
      await browser500.close();
      await server.close();
    }
  });
});

/**
 * Hearing what a browser hears: Chromium whose fake microphone plays a tone, and an in-page probe
 * that taps an audio track (a peer connection's received audio, or any MediaStream) with Web Audio
 * and hands the samples to Node, where src/testing/audio.ts tells which tone it is.
 *
 * `--use-file-for-fake-audio-capture` is per browser process: every page of a browser from
 * `launchChromiumWithTone(1000)` sends 1 kHz. A test whose parties must send different tones
 * launches one browser per tone (`launchToneBrowsers([1000, 500])`).
 */
import type { Browser, JSHandle, Page } from 'playwright-core';
import { type DetectionOptions, type DominantTone, dominantTone } from '../../src/testing/audio.js';
import { fakeAudioCaptureFlag, removeToneWav, writeToneWav } from '../../src/testing/tone-wav.js';
import { launchChromium } from './browser.js';

// ---- launching -----------------------------------------------------------------------------------

export interface ToneBrowser {
  browser: Browser;
  /** Hz: what every getUserMedia audio track of this browser plays. */
  frequency: number;
  /** The WAV file the fake microphone plays. */
  wavPath: string;
  /** Close the browser and remove the WAV file. */
  close(): Promise<void>;
}

export interface ToneBrowserOptions {
  /** Peak amplitude of the tone, fraction of full scale. Default 0.5. */
  amplitude?: number;
  /** More Chromium flags for this browser. */
  extraArgs?: readonly string[];
}

/**
 * Chromium (CHROMIUM_PATH, CHROMIUM_ARGS, via `launchChromium`) whose fake microphone plays a
 * looping `frequency` Hz tone from a 48 kHz 16-bit mono WAV written for it
 * (`--use-file-for-fake-audio-capture=<absolute path>`; headless Chromium needs nothing else, and
 * its AudioContexts run without a user gesture).
 */
export async function launchChromiumWithTone(
  frequency: number,
  options: ToneBrowserOptions = {},
): Promise<ToneBrowser> {
  const wavPath = await writeToneWav({ frequency, amplitude: options.amplitude });
  let browser: Browser;
  try {
    browser = await launchChromium([fakeAudioCaptureFlag(wavPath), ...(options.extraArgs ?? [])]);
  } catch (error) {
    await removeToneWav(wavPath);
    throw error;
  }
  return {
    browser,
    frequency,
    wavPath,
    async close() {
      await browser.close().catch(() => {});
      await removeToneWav(wavPath);
    },
  };
}

/** One browser per tone, launched in parallel, in the order given. */
export async function launchToneBrowsers(
  frequencies: readonly number[],
  options: ToneBrowserOptions = {},
): Promise<ToneBrowser[]> {
  const launched = await Promise.allSettled(frequencies.map((f) => launchChromiumWithTone(f, options)));
  const failure = launched.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(
      launched.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)),
    );
    throw failure.reason;
  }
  return launched.map((result) => (result as PromiseFulfilledResult<ToneBrowser>).value);
}

// ---- locating audio in a page --------------------------------------------------------------------

/**
 * The page expression for the RTCPeerConnection of a webphone call, the way
 * test/support/webphone-pages.ts finds it (`window.sb.phone.peerConnection(callId)`).
 */
export function webphonePeerConnection(callId: string): string {
  return `window.sb.phone.peerConnection(${JSON.stringify(callId)})`;
}

// ---- the in-page probe ---------------------------------------------------------------------------

/** What the probe hands back from the page. */
interface ProbeReading {
  sampleRate: number;
  samples: number[];
  trackId: string;
  trackMuted: boolean;
  contextState: string;
}

interface ProbeRequest {
  target: unknown;
  windowMs: number;
  timeoutMs: number;
}

/**
 * Runs in the page (serialised by Playwright; keep it self-contained). Finds the audio track of
 * `target` — an RTCPeerConnection's first live received audio track, a MediaStream's first live
 * audio track, or a MediaStreamTrack — taps it once (per track, kept in `window`) with an
 * AudioContext and an AnalyserNode, waits until the analyser holds `windowMs` of the track's audio
 * and returns the last `windowMs` of samples.
 */
async function readTrackAudio({ target, windowMs, timeoutMs }: ProbeRequest): Promise<ProbeReading> {
  interface Tap {
    context: AudioContext;
    analyser: AnalyserNode;
    element: HTMLAudioElement;
    startedAt: number;
  }
  const host = window as unknown as { __switchboardAudioTaps?: Map<string, Tap> };
  host.__switchboardAudioTaps ??= new Map();
  const taps = host.__switchboardAudioTaps;
  if (target === null || target === undefined)
    throw new Error('audio probe: the expression gave no peer connection or stream');
  const live = (track: MediaStreamTrack | null): track is MediaStreamTrack =>
    !!track && track.kind === 'audio' && track.readyState === 'live';
  let track: MediaStreamTrack | undefined;
  if (target instanceof RTCPeerConnection)
    track = target
      .getReceivers()
      .map((r) => r.track)
      .find(live);
  else if (target instanceof MediaStream) track = target.getAudioTracks().find(live);
  else if (target instanceof MediaStreamTrack) track = live(target) ? target : undefined;
  else
    throw new Error(
      'audio probe: the expression gave neither an RTCPeerConnection, a MediaStream nor a MediaStreamTrack',
    );
  if (!track) throw new Error('audio probe: no live audio track');

  let tap = taps.get(track.id);
  if (!tap) {
    const stream = new MediaStream([track]);
    // Older Chromium fed a remote WebRTC track into Web Audio only while a media element played
    // it (Chromium 156 does not need this); the element is muted, the analyser taps the stream.
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    element.play().catch(() => {});
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 32768; // the largest: about 680 ms at 48 kHz
    analyser.smoothingTimeConstant = 0;
    context.createMediaStreamSource(stream).connect(analyser);
    await context.resume();
    tap = { context, analyser, element, startedAt: context.currentTime };
    taps.set(track.id, tap);
  }
  const { context, analyser } = tap;
  const seconds = Math.min(windowMs / 1000, analyser.fftSize / context.sampleRate);
  const deadline = Date.now() + timeoutMs;
  // The analyser's buffer starts as zeros: wait until it has been filled with the track's audio.
  while (context.currentTime - tap.startedAt < seconds + 0.05) {
    if (Date.now() > deadline)
      throw new Error(
        `audio probe: the AudioContext did not run (${context.state}, ${context.currentTime}s)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const buffer = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(buffer);
  const count = Math.round(seconds * context.sampleRate);
  return {
    sampleRate: context.sampleRate,
    samples: Array.from(buffer.subarray(buffer.length - count)),
    trackId: track.id,
    trackMuted: track.muted,
    contextState: context.state,
  };
}

// ---- Node side -----------------------------------------------------------------------------------

export interface CapturedAudio {
  /** The page's AudioContext rate (Chromium: 44100 or 48000). */
  sampleRate: number;
  /** Float samples, full scale 1.0. */
  samples: Float32Array;
  trackId: string;
  /** The track's `muted` (true while no media arrives on a remote track). */
  trackMuted: boolean;
}

export interface CaptureOptions {
  /** How much of the most recent audio, in ms; at most about 680. Default 500. */
  windowMs?: number;
  /** How long the probe may wait for the AudioContext to run and fill its buffer. Default 5000. */
  timeoutMs?: number;
}

/**
 * The last `windowMs` of audio of `sourceExpression` in `page`: a page expression for an
 * RTCPeerConnection (its received audio), a MediaStream or a MediaStreamTrack, e.g.
 * `webphonePeerConnection(callId)`. The first capture of a track taps it and waits `windowMs`.
 */
export async function captureAudio(
  page: Page,
  sourceExpression: string,
  { windowMs = 500, timeoutMs = 5000 }: CaptureOptions = {},
): Promise<CapturedAudio> {
  let target: JSHandle;
  try {
    target = await page.evaluateHandle(sourceExpression);
  } catch (error) {
    throw new Error(`audio probe: cannot evaluate ${sourceExpression}: ${(error as Error).message}`);
  }
  try {
    const reading = await page.evaluate(readTrackAudio, { target, windowMs, timeoutMs } as ProbeRequest);
    return {
      sampleRate: reading.sampleRate,
      samples: Float32Array.from(reading.samples),
      trackId: reading.trackId,
      trackMuted: reading.trackMuted,
    };
  } finally {
    await target.dispose().catch(() => {});
  }
}

export interface PageTone extends DominantTone {
  sampleRate: number;
  trackId: string;
  trackMuted: boolean;
}

/** Which of `candidates` (Hz) is the tone in the last `windowMs` of `sourceExpression`'s audio. */
export async function measureTone(
  page: Page,
  sourceExpression: string,
  candidates: readonly number[],
  options: CaptureOptions & DetectionOptions = {},
): Promise<PageTone> {
  const audio = await captureAudio(page, sourceExpression, options);
  return {
    ...dominantTone(audio.samples, audio.sampleRate, candidates, options),
    sampleRate: audio.sampleRate,
    trackId: audio.trackId,
    trackMuted: audio.trackMuted,
  };
}

/**
 * Poll `measureTone` until `frequency` is the dominant tone (a browser's jitter buffer and gain
 * control take a moment to settle); rejects after `timeoutMs` with the last measurement.
 */
export async function waitForTone(
  page: Page,
  sourceExpression: string,
  frequency: number,
  candidates: readonly number[],
  options: CaptureOptions & DetectionOptions & { pollMs?: number } = {},
): Promise<PageTone> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  const all = candidates.includes(frequency) ? candidates : [...candidates, frequency];
  for (;;) {
    const remaining = Math.max(1000, deadline - Date.now());
    const tone = await measureTone(page, sourceExpression, all, { ...options, timeoutMs: remaining });
    if (tone.frequency === frequency) return tone;
    if (Date.now() > deadline) {
      const powers = tone.candidates
        .map((c) => `${c.frequency} Hz ${(c.relativePower * 100).toFixed(1)}%`)
        .join(', ');
      throw new Error(
        `no ${frequency} Hz tone in ${sourceExpression} within ${timeoutMs} ms: dominant ${tone.frequency ?? 'none'} at ${tone.signalDbfs.toFixed(1)} dBFS (${powers}; track ${tone.trackMuted ? 'muted' : 'unmuted'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}

/** Close every AudioContext the probe opened in `page` (closing the page does it too). */
export async function releaseAudioTaps(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const host = window as unknown as {
      __switchboardAudioTaps?: Map<string, { context: AudioContext; element: HTMLAudioElement }>;
    };
    const taps = host.__switchboardAudioTaps;
    if (!taps) return;
    for (const tap of taps.values()) {
      tap.element.srcObject = null;
      await tap.context.close().catch(() => {});
    }
    taps.clear();
  });
}

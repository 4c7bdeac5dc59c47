/**
 * The explorer's "Recordings" section: each recording of a call (`Recordings` of its identifier
 * map) with its RecordingId, owner, the legs on channel 0 (A) and channel 1 (B), start time and
 * duration; a native <audio controls> player on the token URL of `GET /calls/recordings/{id}`; and
 * a waveform of both channels on a <canvas> — the file fetched from that URL, decoded with the Web
 * Audio API, min/max per pixel column, channel 0 on top.
 *
 * The explorer re-renders a followed call every few seconds. The player and waveform of each
 * recording are built once and kept (by RecordingId), so a re-render moves them instead of
 * reloading the file or interrupting playback. A recording not rendered yet (the API's 404 while
 * the worker has not written it, typically until a few seconds after the call ends) says so, is
 * asked for again while the call is followed, and has a Retry button.
 *
 * Everything is built with DOM calls and the stylesheet: no inline script or style (the console's
 * Content-Security-Policy allows neither); the file is fetched from this origin (connect-src and
 * media-src 'self').
 */
import type { WireCallMap, WireLeg } from '../diagnostics/types.js';
import { HttpError, type RecordingWire, type RestClient } from './api-client.js';
import { clock, errorText, h, idCell, idLine } from './dom.js';

type WireRecording = WireCallMap['Recordings'][number];

/** Ask again for a recording that is not rendered yet this often… */
const RETRY_MS = 2500;
/** …while the call is in progress or ended less than this long ago (the call is followed). */
const FOLLOW_AFTER_END_MS = 120_000;
/** Longer recordings get no waveform: decoding them whole would take a lot of the page's memory. */
const MAX_WAVEFORM_SECONDS = 30 * 60;
/** The waveform keeps this many min/max pairs per channel and draws pixel columns from them. */
const PEAK_BUCKETS = 4096;
/** CSS height of the canvas (console.css sets the same). */
const WAVEFORM_HEIGHT = 132;

/** Min/max pairs of one channel: [min0, max0, min1, max1, …]. */
type Peaks = Float32Array;

/** The player and waveform of one recording, kept across re-renders of the call map. */
interface MediaView {
  recordingId: string;
  state: 'loading' | 'pending' | 'ready' | 'failed';
  /** Status line, player, waveform: what the section shows under the recording's facts. */
  element: HTMLElement;
  /** The duration fact: the API's whole seconds first, the decoded file's length once known. */
  duration: HTMLElement;
  /** When to stop asking again by itself (epoch ms): the call's end plus FOLLOW_AFTER_END_MS. */
  followUntil: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** Channel captions drawn beside the waveform ("A — User A (1001)"), refreshed on every render. */
  labels: [string, string];
  waveform: {
    canvas: HTMLCanvasElement;
    captions: [HTMLElement, HTMLElement];
    peaks: Peaks[] | null;
    seconds: number | null;
  } | null;
}

const views = new Map<string, MediaView>();

// ---- names of the legs -------------------------------------------------------------------------------

function legName(leg: WireLeg): string {
  if (leg.User) return `${leg.User.DisplayName ?? leg.User.UserName} (${leg.User.Extension})`;
  return leg.Target;
}

/** Who is on a channel, by the leg when the viewer may see it, else by what the map says of the call. */
function channelName(map: WireCallMap, legId: string, side: 'A' | 'B'): string {
  const leg = map.Legs.find((candidate) => candidate.CallLegId === legId);
  if (leg) return legName(leg);
  if (side === 'A') {
    if (map.Caller) return `${map.Caller.DisplayName ?? map.Caller.UserName} (${map.Caller.Extension})`;
    return `caller ${map.ANum}`;
  }
  return 'the agent';
}

/** The element id of a leg's row in the legs table (explorer.ts gives its rows these ids). */
export function legAnchor(callLegId: string): string {
  return `leg-${callLegId}`;
}

// ---- the section -----------------------------------------------------------------------------------------

/**
 * The Recordings card of a call map, or null when the viewer sees no recording of the call. `query`
 * is what was searched for (an identifier equal to it is highlighted).
 */
export function renderRecordings(client: RestClient, query: string, map: WireCallMap): HTMLElement | null {
  if (map.Recordings.length === 0) return null;
  const list = h('ul', { class: 'recordings', 'data-testid': 'recordings' });
  for (const recording of map.Recordings) list.append(renderRecording(client, query, map, recording));
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `recordings-${map.CallId}` },
    h('h3', { id: `recordings-${map.CallId}` }, `Recordings (${map.Recordings.length})`),
    h(
      'p',
      { class: 'muted small' },
      'Stereo: channel 0 (A) is the caller’s leg, channel 1 (B) the leg that answered. ',
      'The file is rendered shortly after the call ends.',
    ),
    list,
  );
}

function renderRecording(
  client: RestClient,
  query: string,
  map: WireCallMap,
  recording: WireRecording,
): HTMLElement {
  const aName = channelName(map, recording.ALegId, 'A');
  const bName = channelName(map, recording.BLegId, 'B');
  const view = mediaView(client, recording.RecordingId, map);
  view.labels = [`A — ${aName}`, `B — ${bName}`];
  view.followUntil = map.EndTime ? Date.parse(map.EndTime) + FOLLOW_AFTER_END_MS : Number.POSITIVE_INFINITY;
  if (view.waveform) refreshCaptions(view);
  if (view.state === 'pending' && view.timer === null) void load(client, view);

  const owner = recording.Owner.Kind === 'Queue' ? `Queue ${recording.Owner.Name}` : recording.Owner.Name;
  return h(
    'li',
    { class: 'recording', 'data-recording-id': recording.RecordingId },
    h(
      'div',
      { class: 'recording-facts' },
      idLine('RecordingId', recording.RecordingId, query, 'recording-id'),
      h(
        'div',
        { class: 'id-line' },
        h('span', { class: 'id-label' }, 'owner'),
        h(
          'span',
          { class: 'recording-owner', 'data-testid': 'recording-owner', title: recording.Owner.Id },
          owner,
        ),
      ),
      h(
        'div',
        { class: 'id-line' },
        h('span', { class: 'id-label' }, 'started'),
        h(
          'span',
          { class: 'mono small' },
          clock(recording.StartTime),
          h('span', { class: 'muted' }, ' · '),
          view.duration,
        ),
      ),
      h('div', { class: 'id-line' }, h('span', { class: 'id-label' }, 'served by'), endpointCode(recording)),
    ),
    h(
      'div',
      { class: 'recording-channels' },
      channelLine(map, query, 0, recording.ALegId, aName),
      channelLine(map, query, 1, recording.BLegId, bName),
    ),
    view.element,
  );
}

function endpointCode(recording: WireRecording): HTMLElement {
  return h('code', { class: 'endpoint' }, `GET /${recording.Endpoint.replace(/^\/+/, '')}`);
}

/** One channel: its side badge (coloured like the leg's role in the legs table), who, and the leg's CallLegId. */
function channelLine(
  map: WireCallMap,
  query: string,
  channel: 0 | 1,
  legId: string,
  name: string,
): HTMLElement {
  const side = channel === 0 ? 'A' : 'B';
  const leg = map.Legs.find((candidate) => candidate.CallLegId === legId);
  const roleClass = leg ? leg.Role.toLowerCase() : channel === 0 ? 'caller' : 'allocation';
  const who = leg
    ? h(
        'a',
        { class: 'leg-link', href: `#${legAnchor(legId)}`, title: 'Show this leg in the legs table' },
        `${side} — ${name}`,
      )
    : h('span', { class: 'leg-hidden', title: 'This leg is not shown to you' }, `${side} — ${name}`);
  return h(
    'div',
    { class: 'recording-channel', 'data-channel': String(channel), 'data-leg-id': legId },
    h('span', { class: `badge role ${roleClass}` }, `channel ${channel} · ${side}`),
    who,
    h('span', { class: 'id-label' }, 'CallLegId'),
    idCell(legId, query, `recording-channel-${channel}-leg`),
  );
}

// ---- player and waveform ------------------------------------------------------------------------------------

function mediaView(client: RestClient, recordingId: string, map: WireCallMap): MediaView {
  const existing = views.get(recordingId);
  if (existing) return existing;
  const view: MediaView = {
    recordingId,
    state: 'loading',
    element: h('div', { class: 'recording-media', 'data-state': 'loading' }),
    duration: h('span', { 'data-testid': 'recording-duration' }, 'duration —'),
    followUntil: map.EndTime ? Date.parse(map.EndTime) + FOLLOW_AFTER_END_MS : Number.POSITIVE_INFINITY,
    timer: null,
    labels: ['A', 'B'],
    waveform: null,
  };
  views.set(recordingId, view);
  void load(client, view);
  return view;
}

function setState(view: MediaView, state: MediaView['state'], ...children: (Node | string | null)[]): void {
  view.state = state;
  view.element.setAttribute('data-state', state);
  view.element.replaceChildren(...children.filter((child): child is Node | string => child !== null));
}

/** Ask the API for the recording and show its player, or why there is none (yet). */
async function load(client: RestClient, view: MediaView): Promise<void> {
  if (view.timer !== null) clearTimeout(view.timer);
  view.timer = null;
  if (view.state !== 'ready') setState(view, 'loading', h('p', { class: 'muted small' }, 'Loading…'));
  let info: RecordingWire;
  try {
    info = await client.get<RecordingWire>(`/calls/recordings/${encodeURIComponent(view.recordingId)}`);
  } catch (failure) {
    showUnavailable(client, view, failure);
    return;
  }
  showPlayer(client, view, info);
}

function retryButton(client: RestClient, view: MediaView): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: 'button ghost small', 'data-testid': 'recording-retry' },
    'Retry',
  );
  button.addEventListener('click', () => void load(client, view));
  return button;
}

function showUnavailable(client: RestClient, view: MediaView, failure: unknown): void {
  const message = errorText(failure);
  // The API answers 404 for a recording the worker has not written yet ("No recording …") and,
  // with a reason, for one whose audio could not be rendered or whose file is gone.
  const notYet = failure instanceof HttpError && failure.status === 404 && !/not available/i.test(message);
  const followed = Date.now() < view.followUntil;
  const text = notYet
    ? followed
      ? 'Not rendered yet: the recording is available shortly after the call ends. Asking again…'
      : 'Not rendered yet: the recording is available shortly after the call ends.'
    : `Not available: ${message}`;
  setState(
    view,
    notYet ? 'pending' : 'failed',
    h(
      'div',
      {
        class: `recording-status ${notYet ? 'pending' : 'failed'}`,
        role: 'status',
        'data-testid': 'recording-status',
      },
      h('span', {}, text),
      notYet ? h('span', { class: 'muted small' }, ` (${message})`) : null,
      retryButton(client, view),
    ),
  );
  // Asked again by itself only while the call is followed and the recording is on screen.
  if (notYet && followed) {
    view.timer = setTimeout(() => {
      view.timer = null;
      if (view.element.isConnected) void load(client, view);
    }, RETRY_MS);
  }
}

function showPlayer(client: RestClient, view: MediaView, info: RecordingWire): void {
  const url = client.url(info.URL).href;
  view.duration.textContent = `${info.Duration} s`;
  view.duration.title = 'Whole seconds, as GET /calls/recordings/{id} reports it';
  const audio = h('audio', {
    controls: true,
    preload: 'metadata',
    src: url,
    'aria-label': `Recording ${view.recordingId}, ${info.Duration} s`,
    'data-testid': 'recording-audio',
  });
  const captions: [HTMLElement, HTMLElement] = [
    h('span', { class: 'wave-label top', 'aria-hidden': 'true' }),
    h('span', { class: 'wave-label bottom', 'aria-hidden': 'true' }),
  ];
  const canvas = h('canvas', {
    class: 'waveform',
    role: 'img',
    height: String(WAVEFORM_HEIGHT),
    'data-testid': 'recording-waveform',
  });
  view.waveform = { canvas, captions, peaks: null, seconds: null };
  refreshCaptions(view);
  const waveformStatus = h(
    'p',
    { class: 'muted small', 'data-testid': 'waveform-status' },
    'Drawing waveform…',
  );
  setState(
    view,
    'ready',
    h(
      'div',
      { class: 'recording-player' },
      audio,
      h('a', { class: 'small', href: url, download: '' }, 'Download MP3'),
    ),
    h('div', { class: 'waveform-wrap' }, canvas, ...captions),
    waveformStatus,
  );
  // When the token expires (4 h), the player's next request fails: fetch a fresh URL.
  audio.addEventListener('error', () => {
    waveformStatus.textContent = 'The player could not load the file.';
    waveformStatus.append(' ', retryButton(client, view));
  });
  if (info.Duration > MAX_WAVEFORM_SECONDS) {
    waveformStatus.textContent = `No waveform for recordings over ${MAX_WAVEFORM_SECONDS / 60} minutes.`;
    return;
  }
  drawWaveformFrom(view, url)
    .then(() => waveformStatus.remove())
    .catch((failure: unknown) => {
      waveformStatus.textContent = `Waveform unavailable: ${errorText(failure)}`;
    });
}

function refreshCaptions(view: MediaView): void {
  const waveform = view.waveform;
  if (!waveform) return;
  waveform.captions[0].textContent = view.labels[0];
  waveform.captions[1].textContent = view.labels[1];
  const seconds = waveform.seconds === null ? '' : `, ${waveform.seconds.toFixed(1)} s`;
  waveform.canvas.setAttribute(
    'aria-label',
    `Waveform of recording ${view.recordingId}${seconds}, two channels: ` +
      `top channel 0, ${view.labels[0]}; bottom channel 1, ${view.labels[1]}`,
  );
}

/** Fetch the file (the token URL: no credentials), decode both channels and draw them. */
async function drawWaveformFrom(view: MediaView, url: string): Promise<void> {
  const waveform = view.waveform!;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  // An offline context decodes without an audio output device; 8 kHz is the recordings' own rate.
  const context = new OfflineAudioContext({ numberOfChannels: 2, length: 1, sampleRate: 8000 });
  const buffer = await context.decodeAudioData(bytes);
  const channels: Peaks[] = [];
  for (let channel = 0; channel < Math.min(2, buffer.numberOfChannels); channel++)
    channels.push(peaksOf(buffer.getChannelData(channel)));
  waveform.peaks = channels;
  waveform.seconds = buffer.duration;
  view.duration.textContent = `${buffer.duration.toFixed(1)} s`;
  view.duration.title = 'Length of the decoded file';
  refreshCaptions(view);
  draw(waveform.canvas, channels);
  waveform.canvas.setAttribute('data-drawn', 'true');
  // Redrawn at the new width when the layout changes (the peaks are kept, the samples are not).
  let drawnWidth = waveform.canvas.clientWidth;
  new ResizeObserver(() => {
    const width = waveform.canvas.clientWidth;
    if (width === drawnWidth || width === 0) return;
    drawnWidth = width;
    draw(waveform.canvas, channels);
  }).observe(waveform.canvas);
}

function peaksOf(samples: Float32Array): Peaks {
  const buckets = Math.max(1, Math.min(PEAK_BUCKETS, samples.length));
  const peaks = new Float32Array(buckets * 2);
  for (let bucket = 0; bucket < buckets; bucket++) {
    const start = Math.floor((bucket * samples.length) / buckets);
    const end = Math.max(start + 1, Math.floor(((bucket + 1) * samples.length) / buckets));
    let min = 0;
    let max = 0;
    for (let index = start; index < end && index < samples.length; index++) {
      const sample = samples[index]!;
      if (sample < min) min = sample;
      if (sample > max) max = sample;
    }
    peaks[bucket * 2] = min;
    peaks[bucket * 2 + 1] = max;
  }
  return peaks;
}

/** Channel 0 in the top half, channel 1 in the bottom half: one min-to-max bar per pixel column. */
function draw(canvas: HTMLCanvasElement, channels: Peaks[]): void {
  const cssWidth = Math.max(1, Math.floor(canvas.clientWidth || 720));
  const cssHeight = WAVEFORM_HEIGHT;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2D canvas context');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, cssWidth, cssHeight);
  const style = getComputedStyle(canvas);
  const colours = [
    style.getPropertyValue('--wave-a').trim() || '#2563eb',
    style.getPropertyValue('--wave-b').trim() || '#4f46e5',
  ];
  const half = cssHeight / 2;
  channels.forEach((peaks, channel) => {
    const centre = half * channel + half / 2;
    const scale = half / 2 - 3;
    const buckets = peaks.length / 2;
    context.fillStyle = colours[channel] ?? colours[0]!;
    for (let x = 0; x < cssWidth; x++) {
      const first = Math.floor((x * buckets) / cssWidth);
      const last = Math.max(first + 1, Math.floor(((x + 1) * buckets) / cssWidth));
      let min = 0;
      let max = 0;
      for (let bucket = first; bucket < last && bucket < buckets; bucket++) {
        min = Math.min(min, peaks[bucket * 2]!);
        max = Math.max(max, peaks[bucket * 2 + 1]!);
      }
      const top = centre - Math.min(1, max) * scale;
      const height = Math.max(1, (Math.min(1, max) - Math.max(-1, min)) * scale);
      context.fillRect(x, top, 1, height);
    }
  });
}

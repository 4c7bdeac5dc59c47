/**
 * Generates the built-in audio of assets/audio/ (assets/audio/README.md): speech prompts spoken by
 * espeak-ng and the default music on hold, composed here. Every file is a WAV of 16-bit PCM, mono,
 * 8000 Hz — the telephony rate: rtpengine sends G.711 to phones, so more would only be resampled away.
 *
 *   npx tsx scripts/generate-audio.ts          # (re)write assets/audio/*.wav
 *   npx tsx scripts/generate-audio.ts --check  # regenerate in memory, compare, exit 1 on a difference
 *
 * Needs `espeak-ng` on PATH (Debian: apt-get install espeak-ng); nothing else. espeak-ng speaks at
 * 22050 Hz; the speech is brought to 8000 Hz here with a Kaiser-windowed sinc low-pass (flat to
 * 3.4 kHz, ≥ 80 dB down from 4 kHz, the new Nyquist frequency) evaluated at exact rational positions
 * (160 output samples per 441 input samples), never by dropping samples. The voice, speed and pitch
 * are fixed and every step is plain arithmetic, so one espeak-ng version always gives the same bytes
 * (`--check` proves it); another version may pronounce a little differently.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodePcm16Wav, encodePcm16Wav } from '../src/media/audio-file.js';

const OUT_DIR = fileURLToPath(new URL('../assets/audio/', import.meta.url));
const RATE = 8000;

/** espeak-ng settings: American English, a little slower than its default 175 words per minute. */
const VOICE = 'en-us';
const WORDS_PER_MINUTE = 150;
const PITCH = 45;

// ---- DSP helpers ---------------------------------------------------------------------------------

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Modified Bessel function of the first kind, order 0 (for the Kaiser window). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/**
 * Band-limited resampling from `from` Hz to `to` Hz (to < from): every output sample is the input
 * convolved with a Kaiser-windowed sinc low-pass centred at its exact position in the input. The
 * kernel's −6 dB point is at 3.7 kHz for 8 kHz output, its transition band 3.4–4.0 kHz, its
 * stop-band attenuation about 80 dB, so nothing above 4 kHz folds back into the telephone band.
 */
export function resample(input: Float64Array, from: number, to: number): Float64Array {
  const divisor = gcd(from, to);
  const up = to / divisor; // phases: output positions fall on `up` distinct fractions of an input step
  const down = from / divisor;
  const nyquistOut = to / 2;
  const cutoff = nyquistOut * 0.925; // Hz
  const transition = 2 * (nyquistOut - cutoff); // Hz, centred on the cutoff
  const attenuationDb = 80;
  const beta = 0.1102 * (attenuationDb - 8.7);
  const taps = Math.ceil((attenuationDb - 8) / (2.285 * 2 * Math.PI * (transition / from)));
  const halfWidth = Math.ceil(taps / 2); // input samples either side
  const fc = cutoff / from; // cycles per input sample
  const i0Beta = besselI0(beta);
  const kernel = (x: number) => {
    if (Math.abs(x) >= halfWidth) return 0;
    const sinc = x === 0 ? 1 : Math.sin(2 * Math.PI * fc * x) / (2 * Math.PI * fc * x);
    const r = x / halfWidth;
    return 2 * fc * sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta);
  };
  // Polyphase table: for phase p (position base + p/up) the weights of inputs base-halfWidth+1 … base+halfWidth.
  const width = 2 * halfWidth;
  const table: Float64Array[] = [];
  for (let phase = 0; phase < up; phase++) {
    const weights = new Float64Array(width);
    let sum = 0;
    for (let j = 0; j < width; j++) {
      weights[j] = kernel(phase / up + halfWidth - 1 - j);
      sum += weights[j]!;
    }
    for (let j = 0; j < width; j++) weights[j]! /= sum; // unity gain at DC for every phase
    table.push(weights);
  }
  const outLength = Math.floor((input.length * up) / down);
  const out = new Float64Array(outLength);
  for (let n = 0; n < outLength; n++) {
    const position = n * down;
    const base = Math.floor(position / up);
    const weights = table[position % up]!;
    const first = base - halfWidth + 1;
    let acc = 0;
    for (let j = 0; j < width; j++) {
      const k = first + j;
      if (k >= 0 && k < input.length) acc += weights[j]! * input[k]!;
    }
    out[n] = acc;
  }
  return out;
}

/** One-pole high-pass (DC and rumble below `hz`). */
function highPass(samples: Float64Array, hz: number, rate: number): Float64Array {
  const a = Math.exp((-2 * Math.PI * hz) / rate);
  const out = new Float64Array(samples.length);
  let previousIn = 0;
  let previousOut = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i]!;
    previousOut = a * (previousOut + x - previousIn);
    previousIn = x;
    out[i] = previousOut;
  }
  return out;
}

function peakOf(samples: Float64Array): number {
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  return peak;
}

function dbToAmplitude(db: number): number {
  return 10 ** (db / 20);
}

function toInt16(samples: Float64Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32767)));
  return out;
}

function silence(ms: number): Float64Array {
  return new Float64Array(Math.round((ms * RATE) / 1000));
}

function concatenate(...parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- speech --------------------------------------------------------------------------------------

/** Speech level: the RMS of its voiced 20 ms frames, with the peak kept below −1 dBFS. */
const SPEECH_RMS_DBFS = -18;
const SPEECH_PEAK_DBFS = -1;

interface Padding {
  /** Silence before and after the trimmed speech, ms. */
  leadMs: number;
  tailMs: number;
}

/** A fragment that is joined to others (a number, "minutes"): short gaps. */
const FRAGMENT: Padding = { leadMs: 40, tailMs: 90 };
/** A whole sentence played on its own. */
const SENTENCE: Padding = { leadMs: 150, tailMs: 400 };

function espeakVersion(): string {
  try {
    return execFileSync('espeak-ng', ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('espeak-ng is not on PATH: install it (Debian: apt-get install espeak-ng)');
    throw error;
  }
}

function speak(text: string, padding: Padding): Int16Array {
  const wav = execFileSync(
    'espeak-ng',
    ['-v', VOICE, '-s', String(WORDS_PER_MINUTE), '-p', String(PITCH), '-a', '100', '--stdout', text],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const { sampleRate, samples } = decodePcm16Wav(wav, `espeak-ng output for "${text}"`);
  const input = Float64Array.from(samples, (x) => x / 32768);
  const speech = highPass(resample(input, sampleRate, RATE), 70, RATE);

  // Trim espeak's own leading and trailing silence: frames of 5 ms more than 40 dB below the peak.
  const frame = RATE / 200;
  const peak = peakOf(speech);
  const loud = (start: number) => {
    let energy = 0;
    for (let i = start; i < Math.min(start + frame, speech.length); i++) energy += speech[i]! ** 2;
    return Math.sqrt(energy / frame) > peak * 0.01;
  };
  let first = 0;
  while (first < speech.length && !loud(first)) first += frame;
  let last = speech.length - frame;
  while (last > first && !loud(last)) last -= frame;
  const margin = RATE / 50; // 20 ms either side of the first and last loud frame
  const trimmed = speech.slice(Math.max(0, first - margin), Math.min(speech.length, last + frame + margin));

  // Level: RMS of the voiced 20 ms frames (those within 30 dB of the loudest frame).
  const block = RATE / 50;
  const energies: number[] = [];
  for (let start = 0; start + block <= trimmed.length; start += block) {
    let energy = 0;
    for (let i = start; i < start + block; i++) energy += trimmed[i]! ** 2;
    energies.push(energy / block);
  }
  const loudest = Math.max(...energies);
  const voiced = energies.filter((energy) => energy > loudest / 1000);
  const rms = Math.sqrt(voiced.reduce((sum, energy) => sum + energy, 0) / voiced.length);
  const gain = Math.min(
    dbToAmplitude(SPEECH_RMS_DBFS) / rms,
    dbToAmplitude(SPEECH_PEAK_DBFS) / peakOf(trimmed),
  );
  // 5 ms raised-cosine fades so that the cut edges do not click.
  const fade = RATE / 200;
  for (let i = 0; i < trimmed.length; i++) {
    const edge = Math.min(i, trimmed.length - 1 - i);
    const ramp = edge < fade ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / fade) : 1;
    trimmed[i] = trimmed[i]! * gain * ramp;
  }
  return toInt16(concatenate(silence(padding.leadMs), trimmed, silence(padding.tailMs)));
}

// ---- music on hold -------------------------------------------------------------------------------

/**
 * About 30 s of calm instrumental music, written for the telephone band (nothing below ~110 Hz
 * carries it, nothing above ~3 kHz): eight bars at 64 beats per minute in F major — a soft pad
 * holding each chord, a plucked arpeggio in eighth notes and a gentle bass. Every note is rendered
 * into a circular buffer (a tail that runs past the end continues at the start), so the file loops
 * without a seam: rtpengine repeats it while the caller waits.
 */
const BEATS_PER_MINUTE = 64;
const BEAT = (60 / BEATS_PER_MINUTE) * RATE; // 7500 samples
const BAR = 4 * BEAT;

interface Chord {
  /** MIDI notes held by the pad. */
  pad: number[];
  /** Bass root (MIDI). */
  root: number;
  /** Four notes the arpeggio walks through. */
  arpeggio: number[];
}

const PROGRESSION: Chord[] = [
  { pad: [65, 69, 72, 76], root: 53, arpeggio: [72, 76, 77, 81] }, // Fmaj7
  { pad: [65, 69, 72, 74], root: 50, arpeggio: [72, 74, 77, 81] }, // Dm7
  { pad: [65, 70, 72, 74], root: 46, arpeggio: [72, 74, 77, 82] }, // Bb(add9)
  { pad: [64, 67, 72, 76], root: 48, arpeggio: [72, 76, 79, 84] }, // C
  { pad: [64, 67, 69, 72], root: 45, arpeggio: [72, 76, 79, 81] }, // Am7
  { pad: [65, 69, 72, 76], root: 50, arpeggio: [72, 76, 77, 81] }, // Dm9
  { pad: [65, 67, 70, 74], root: 55, arpeggio: [70, 74, 77, 79] }, // Gm7
  { pad: [65, 70, 72, 74], root: 48, arpeggio: [70, 72, 77, 79] }, // C9sus4 (Bb/C), back to F
];

/** Which arpeggio note sounds on each eighth of a bar: rising in the first half, turning in the second. */
const ARPEGGIO_PATTERNS = [
  [0, 1, 2, 3, 2, 1, 2, 3],
  [0, 2, 1, 3, 2, 3, 1, 2],
];

function midiToHz(note: number): number {
  return 440 * 2 ** ((note - 69) / 12);
}

interface Note {
  start: number; // sample
  length: number; // samples, release included
  hz: number;
  /** Amplitudes of harmonics 1, 2, 3, …. */
  harmonics: number[];
  envelope: (t: number, length: number) => number; // t and length in samples
  level: number;
  /** Per-harmonic exponential decay rate (1/s), 0: none. */
  harmonicDecay?: number[];
}

function raisedCosine(x: number): number {
  return 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, Math.min(1, x)));
}

function render(notes: Note[], total: number): Float64Array {
  const out = new Float64Array(total);
  for (const note of notes) {
    for (let h = 0; h < note.harmonics.length; h++) {
      const hz = note.hz * (h + 1);
      if (hz >= RATE * 0.45) continue; // stay well inside the band: no aliasing
      const amplitude = note.harmonics[h]! * note.level;
      const decay = note.harmonicDecay?.[h] ?? 0;
      const step = (2 * Math.PI * hz) / RATE;
      for (let i = 0; i < note.length; i++) {
        const value =
          amplitude * note.envelope(i, note.length) * Math.exp((-decay * i) / RATE) * Math.sin(step * i);
        const at = (note.start + i) % total;
        out[at] = out[at]! + value;
      }
    }
  }
  return out;
}

function composeMusic(): Int16Array {
  const total = PROGRESSION.length * BAR; // 240000 samples = 30 s
  const notes: Note[] = [];
  const seconds = (s: number) => Math.round(s * RATE);

  // Pad: each chord fades in over 1.2 s and out over 1.6 s after its bar, overlapping the next.
  const padAttack = seconds(1.2);
  const padRelease = seconds(1.6);
  const padEnvelope = (t: number, length: number) =>
    raisedCosine(t / padAttack) * raisedCosine((length - t) / padRelease);
  PROGRESSION.forEach((chord, bar) => {
    for (const note of chord.pad) {
      // Two voices a few cents apart: a slow, soft chorus.
      for (const cents of [-4, 4]) {
        notes.push({
          start: bar * BAR,
          length: BAR + padRelease,
          hz: midiToHz(note) * 2 ** (cents / 1200),
          harmonics: [1, 0.3, 0.12, 0.04],
          envelope: padEnvelope,
          level: 0.05,
        });
      }
    }
  });

  // Bass: the root on beat 1, the fifth (or fourth below) on beat 3; a soft pluck that fades.
  const bassEnvelope = (t: number, length: number) =>
    raisedCosine(t / seconds(0.03)) *
    raisedCosine((length - t) / seconds(0.25)) *
    Math.exp(-t / seconds(2.2));
  PROGRESSION.forEach((chord, bar) => {
    const fifth = chord.root + 7 <= 57 ? chord.root + 7 : chord.root - 5;
    [chord.root, fifth].forEach((note, half) => {
      notes.push({
        start: bar * BAR + half * 2 * BEAT,
        length: 2 * BEAT + seconds(0.2),
        hz: midiToHz(note),
        harmonics: [1, 0.55, 0.3, 0.12],
        envelope: bassEnvelope,
        level: half === 0 ? 0.22 : 0.17,
      });
    });
  });

  // Arpeggio: eighth notes of a mellow plucked tone (its overtones die away faster than the note).
  const eighth = BEAT / 2;
  const arpeggioEnvelope = (t: number, length: number) =>
    raisedCosine(t / seconds(0.006)) *
    raisedCosine((length - t) / seconds(0.3)) *
    Math.exp(-t / seconds(0.55));
  PROGRESSION.forEach((chord, bar) => {
    const pattern = ARPEGGIO_PATTERNS[bar % 2 === 0 ? 0 : 1]!;
    pattern.forEach((index, step) => {
      const accent = step === 0 ? 1 : step % 2 === 0 ? 0.8 : 0.65;
      notes.push({
        start: bar * BAR + step * eighth,
        length: seconds(1.6),
        hz: midiToHz(chord.arpeggio[index]!),
        harmonics: [1, 0.35, 0.1],
        harmonicDecay: [0, 2.5, 5],
        envelope: arpeggioEnvelope,
        level: 0.1 * accent,
      });
    });
  });

  const mix = render(notes, total);
  // Peak at −6 dBFS.
  const gain = dbToAmplitude(-6) / peakOf(mix);
  for (let i = 0; i < mix.length; i++) mix[i] = mix[i]! * gain;
  return toInt16(mix);
}

// ---- the files -----------------------------------------------------------------------------------

const NUMBER_WORDS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];
const TENS_WORDS: Record<number, string> = {
  30: 'thirty',
  40: 'forty',
  50: 'fifty',
  60: 'sixty',
  70: 'seventy',
  80: 'eighty',
  90: 'ninety',
};

/** File name → how to make it. */
function recipes(): Array<[string, () => Int16Array]> {
  const list: Array<[string, () => Int16Array]> = [
    [
      'greeting.wav',
      () =>
        speak(
          'Thank you for calling. All our agents are busy at the moment. Please hold, and the next available agent will be with you shortly.',
          SENTENCE,
        ),
    ],
    ['music.wav', composeMusic],
    [
      'goodbye.wav',
      () => speak('We are sorry, no agent could take your call. Please call again later. Goodbye.', SENTENCE),
    ],
    [
      'closed.wav',
      () =>
        speak('We are closed at the moment. Please call again during our opening hours. Goodbye.', SENTENCE),
    ],
    ['whisper-queue-call.wav', () => speak('Queue call.', SENTENCE)],
    ['you-are-caller-number.wav', () => speak('You are caller number', FRAGMENT)],
    ['expected-wait.wav', () => speak('Your expected waiting time is about', FRAGMENT)],
    ['minutes.wav', () => speak('minutes.', FRAGMENT)],
    ['minute.wav', () => speak('minute.', FRAGMENT)],
    ['less-than-a-minute.wav', () => speak('Your expected waiting time is less than a minute.', FRAGMENT)],
    // The pause between the two sentences of a position announcement (./prompts.ts).
    ['pause.wav', () => toInt16(silence(350))],
  ];
  NUMBER_WORDS.forEach((word, n) => {
    list.push([`number-${n}.wav`, () => speak(word, FRAGMENT)]);
  });
  for (const [n, word] of Object.entries(TENS_WORDS))
    list.push([`number-${n}.wav`, () => speak(word, FRAGMENT)]);
  return list;
}

function main(): void {
  const check = process.argv.includes('--check');
  const version = espeakVersion().split(/\s+Data at:/)[0];
  console.log(`${version}; voice ${VOICE}, ${WORDS_PER_MINUTE} wpm, pitch ${PITCH}; ${RATE} Hz mono 16-bit`);
  mkdirSync(OUT_DIR, { recursive: true });
  let totalBytes = 0;
  const differing: string[] = [];
  for (const [name, make] of recipes()) {
    const wav = encodePcm16Wav(make(), RATE);
    totalBytes += wav.length;
    const path = join(OUT_DIR, name);
    const seconds = (wav.length - 44) / 2 / RATE;
    if (check) {
      const same = existsSync(path) && readFileSync(path).equals(wav);
      if (!same) differing.push(name);
      console.log(
        `${same ? 'same     ' : 'DIFFERENT'} ${name.padEnd(28)} ${seconds.toFixed(2).padStart(6)} s`,
      );
    } else {
      writeFileSync(path, wav);
      console.log(
        `${name.padEnd(28)} ${seconds.toFixed(2).padStart(6)} s ${String(wav.length).padStart(8)} bytes`,
      );
    }
  }
  console.log(`total ${(totalBytes / 1024).toFixed(0)} KiB`);
  if (check && differing.length > 0) {
    console.error(`${differing.length} file(s) differ from assets/audio: ${differing.join(', ')}`);
    process.exit(1);
  }
}

// Run when executed, not when imported (a check can import `resample`).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();

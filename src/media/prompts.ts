/**
 * The built-in audio (assets/audio/, made by scripts/generate-audio.ts) and the position
 * announcements composed from it (DESIGN.md §9 "Queue audio"). Every path is absolute, because
 * rtpengine opens the files itself (`play media` with `file:`).
 *
 * An announcement is "You are caller number N", then, when an expected wait is given, "Your
 * expected waiting time is about M minutes" ("… about one minute"; "… is less than a minute" for 0).
 * Numbers are composed from the number prompts (0–20, then tens and ones), so 0–99 can be said;
 * a position or wait above 99 is said as 99 — "caller number ninety-nine" is still true enough for a
 * caller, and the queue's `maxWaitSeconds` ends such waits long before.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { concatWavFiles } from './audio-file.js';

/**
 * `<package root>/assets/audio`: this module is src/media/prompts.ts, compiled to
 * dist/media/prompts.js, both two levels below the package root.
 */
export const BUILTIN_AUDIO_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'assets',
  'audio',
);

function builtin(name: string): string {
  return join(BUILTIN_AUDIO_DIR, name);
}

/** The built-in files played whole; absolute paths. */
export const builtinAudio = Object.freeze({
  /** "Thank you for calling. All our agents are busy …": a queue's default greeting. */
  greeting: builtin('greeting.wav'),
  /** 30 s of synthesized music, seamlessly loopable: the default music on hold. */
  music: builtin('music.wav'),
  /** "We are sorry, no agent could take your call. Please call again later. Goodbye." */
  goodbye: builtin('goodbye.wav'),
  /** "We are closed at the moment. Please call again during our opening hours. Goodbye." */
  closed: builtin('closed.wav'),
  /** "Queue call": whisper to the agent when the queue has none of its own. */
  whisperQueueCall: builtin('whisper-queue-call.wav'),
});

/** The largest number the prompts can say. */
export const MAX_SAID_NUMBER = 99;

/** The prompt files (names in `promptDir`) that say `n`, 0–99. */
function numberPromptNames(n: number): string[] {
  if (n <= 20) return [`number-${n}.wav`];
  const tens = n - (n % 10);
  const ones = n % 10;
  return ones === 0 ? [`number-${tens}.wav`] : [`number-${tens}.wav`, `number-${ones}.wav`];
}

function checkPosition(position: number): number {
  if (!Number.isInteger(position) || position < 1)
    throw new RangeError(`a queue position is a whole number from 1, not ${position}`);
  return Math.min(position, MAX_SAID_NUMBER);
}

/** Whole minutes, rounded to the nearest (0.4 → 0: "less than a minute"), at most 99. */
function checkMinutes(minutes: number): number {
  if (!Number.isFinite(minutes) || minutes < 0)
    throw new RangeError(`an expected wait is a number of minutes from 0, not ${minutes}`);
  return Math.min(Math.round(minutes), MAX_SAID_NUMBER);
}

/**
 * The prompt files, in order, that a position announcement is made of (absolute paths in
 * `promptDir`). `position` is a whole number from 1; `expectedWaitMinutes` is rounded to whole
 * minutes. Both are said as 99 when larger. Throws RangeError for other values.
 */
export function positionAnnouncementParts(
  position: number,
  expectedWaitMinutes?: number,
  promptDir: string = BUILTIN_AUDIO_DIR,
): string[] {
  const names = ['you-are-caller-number.wav', ...numberPromptNames(checkPosition(position))];
  if (expectedWaitMinutes !== undefined) {
    const minutes = checkMinutes(expectedWaitMinutes);
    names.push('pause.wav');
    if (minutes === 0) names.push('less-than-a-minute.wav');
    else
      names.push(
        'expected-wait.wav',
        ...numberPromptNames(minutes),
        minutes === 1 ? 'minute.wav' : 'minutes.wav',
      );
  }
  return names.map((name) => join(promptDir, name));
}

/**
 * Composes position announcements into single WAV files on first use and keeps them in `cacheDir`
 * (created when needed), one file per distinct announcement — `position-3.wav`,
 * `position-3-wait-4.wav` — so a queue's announcements cost file work once per process and
 * directory. rtpengine must be able to read `cacheDir` (the platform's data directory is).
 */
export class PromptComposer {
  readonly cacheDir: string;
  private readonly promptDir: string;
  private temporaryCounter = 0;

  /** `promptDir`: where the number prompts are (default: the built-in ones). */
  constructor(cacheDir: string, promptDir: string = BUILTIN_AUDIO_DIR) {
    this.cacheDir = resolve(cacheDir);
    this.promptDir = resolve(promptDir);
  }

  /**
   * The absolute path of a WAV saying "You are caller number N" and, when `expectedWaitMinutes` is
   * given, "Your expected waiting time is about M minutes". Written atomically (a temporary file,
   * then rename) the first time; later calls return the same path without writing. Throws
   * RangeError for a position below 1 or not whole, or a negative wait; AudioFileError when a
   * prompt file is missing or broken.
   */
  positionAnnouncement(position: number, expectedWaitMinutes?: number): string {
    const said = checkPosition(position);
    const minutes = expectedWaitMinutes === undefined ? undefined : checkMinutes(expectedWaitMinutes);
    const name = minutes === undefined ? `position-${said}.wav` : `position-${said}-wait-${minutes}.wav`;
    const path = join(this.cacheDir, name);
    if (existsSync(path)) return path;
    mkdirSync(this.cacheDir, { recursive: true });
    const temporary = join(this.cacheDir, `.${name}.${process.pid}.${++this.temporaryCounter}.tmp`);
    try {
      concatWavFiles(positionAnnouncementParts(said, minutes, this.promptDir), temporary);
      renameSync(temporary, path);
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
    return path;
  }
}

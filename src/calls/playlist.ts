/**
 * What the media engine plays to one party of a call, in order: some items once (a greeting, a
 * goodbye), then one item in a loop (music on hold), with an occasional interjection into the
 * loop (a position announcement) after which the loop starts again. The engine plays one file at
 * a time (rtpengine `play media` replaces what plays); the playlist moves on when a file's
 * duration (the engine's answer) has passed.
 *
 * Playing is best effort: when the engine refuses a file the playlist logs it and goes on with the
 * next (a loop that fails stops) — the caller then waits in silence rather than losing the call.
 */
import type { AudioKind, JournalFact } from '../journal/types.js';
import type { Logger } from '../logger.js';
import type { MediaEngine } from './media.js';

export interface PlaylistItem {
  file: string;
  audio: AudioKind;
  queueId?: string;
}

export interface PlaylistServices {
  media: MediaEngine;
  callId: string;
  logger: Logger;
  append(fact: JournalFact): void;
  /** The file to hand the engine for a configured one (e.g. an evenly paced copy); default itself. */
  playable?(file: string): string;
}

export interface PlaylistPlan {
  /** Played once each, in order. */
  once: PlaylistItem[];
  /** Then played over and over until stopped. */
  loop?: PlaylistItem;
  /** Every `everyMs` of looping, this item (if it gives one) is played once, then the loop restarts. */
  interject?: { everyMs: number; item: () => PlaylistItem | undefined };
  /** Called when the `once` items have all played and there is no loop. */
  onFinished?: () => void;
}

/** A file whose engine-reported length is unknown is replayed after this long. */
const UNKNOWN_DURATION_MS = 30_000;
/** Never replay a loop more often than this (a file of a few ms would hammer the engine). */
const MIN_LOOP_MS = 1000;
/** Passes of a loop the engine plays on its own (rtpengine `repeat-times`) before it is started again. */
const ENGINE_REPEATS = 1000;
/** Node's longest timer (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Playlist {
  private generation = 0;
  private timer?: NodeJS.Timeout;
  private interjectTimer?: NodeJS.Timeout;
  private playing = false;
  private segment = 0;

  constructor(
    private readonly services: PlaylistServices,
    /** The engine tag of the party that hears it. */
    readonly toTag: string,
    /** That party's CallLegId (journaled); its engine tag unless renamed. */
    readonly callLegId: string = toTag,
  ) {}

  get active(): boolean {
    return this.playing;
  }

  /** Start a plan, replacing whatever this playlist played. */
  start(plan: PlaylistPlan): void {
    this.clearTimers();
    const generation = ++this.generation;
    this.playing = true;
    const items = [...plan.once];
    let loopJournaled = false;
    const next = (): void => {
      if (generation !== this.generation) return;
      const item = items.shift();
      if (item) {
        this.playOne(generation, item, true, next);
        return;
      }
      if (!plan.loop) {
        this.playing = false;
        plan.onFinished?.();
        return;
      }
      const loop = plan.loop;
      const first = !loopJournaled;
      loopJournaled = true;
      if (first && plan.interject) this.scheduleInterjection(generation, plan, () => next());
      this.playOne(generation, loop, first, next, MIN_LOOP_MS);
    };
    next();
  }

  private scheduleInterjection(generation: number, plan: PlaylistPlan, resumeLoop: () => void): void {
    const interject = plan.interject!;
    this.interjectTimer = setTimeout(() => {
      if (generation !== this.generation) return;
      const item = interject.item();
      if (!item) {
        this.scheduleInterjection(generation, plan, resumeLoop);
        return;
      }
      clearTimeout(this.timer);
      this.playOne(generation, item, true, () => {
        this.scheduleInterjection(generation, plan, resumeLoop);
        resumeLoop();
      });
    }, interject.everyMs);
    this.interjectTimer.unref();
  }

  private playOne(
    generation: number,
    item: PlaylistItem,
    journal: boolean,
    then: () => void,
    minimumMs = 0,
  ): void {
    const { media, callId, logger } = this.services;
    // Only the latest segment moves the playlist on (an interjection supersedes a loop replay).
    const segment = ++this.segment;
    const file = this.services.playable?.(item.file) ?? item.file;
    // A loop is repeated by the engine itself: no gap between passes, no command per pass.
    const looping = minimumMs > 0;
    media.play(callId, this.toTag, file, looping ? { repeat: ENGINE_REPEATS } : {}).then(
      ({ durationMs }) => {
        if (generation !== this.generation || segment !== this.segment) return;
        if (journal)
          this.services.append({
            type: 'AudioPlayed',
            callId,
            callLegId: this.callLegId,
            audio: item.audio,
            ...(item.queueId ? { queueId: item.queueId } : {}),
          });
        // The engine's repeats last ENGINE_REPEATS passes; only then is the loop played again.
        const once = Math.max(durationMs > 0 ? durationMs : UNKNOWN_DURATION_MS, minimumMs);
        const wait = looping ? Math.min(once * ENGINE_REPEATS, MAX_TIMER_MS) : once;
        this.timer = setTimeout(then, wait);
        this.timer.unref();
      },
      (err: unknown) => {
        if (generation !== this.generation || segment !== this.segment) return;
        logger.warn(
          { err, callId, file: item.file, audio: item.audio },
          'call: the media engine did not play',
        );
        // A file played once is skipped (what follows still plays); a loop that fails stops.
        if (minimumMs === 0) then();
        else this.playing = false;
      },
    );
  }

  private clearTimers(): void {
    clearTimeout(this.timer);
    clearTimeout(this.interjectTimer);
  }

  /** Stop playing (the engine stops too). Safe to call when nothing plays. */
  async stop(): Promise<void> {
    this.generation++;
    this.clearTimers();
    if (!this.playing) return;
    this.playing = false;
    const { media, callId, logger } = this.services;
    await media.stopPlaying(callId, this.toTag).catch((err: unknown) => {
      logger.warn({ err, callId }, 'call: the media engine did not stop playing');
    });
  }

  /** Forget timers without telling the engine (the call is being deleted there anyway). */
  dispose(): void {
    this.generation++;
    this.clearTimers();
    this.playing = false;
  }
}

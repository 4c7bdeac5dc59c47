/**
 * The explorer's sequence diagram (SVG): one lifeline per participant of a call and one row per
 * step of its timeline — SIP messages as arrows, coloured by kind (queue audio the media engine
 * plays, `♪ greeting` / `♪ music on hold`, and re-INVITEs have their own), and notes on a lifeline.
 */
import type { WireCallMap, WireTimelineStep } from '../diagnostics/types.js';
import { clock, h, s } from './dom.js';

const COLUMN = 170;
const ROW = 38;
const TOP = 58;
const GUTTER = 78;
/** About how wide one character of an arrow's label is (11.5 px, semi-bold). */
const ARROW_CHAR_WIDTH = 6.6;

function stepClass(step: WireTimelineStep): string {
  if (step.Kind === 'note') return 'note';
  if (/^INVITE/.test(step.Label)) return 'invite';
  // Queue audio: what the media engine plays (♪ greeting, ♪ music on hold, …) and in-dialog offers.
  if (step.Fact === 'AudioPlayed') return 'audio';
  if (/^re-INVITE/.test(step.Label)) return 'reinvite';
  if (/^(1\d\d)/.test(step.Label)) return 'provisional';
  if (/^2\d\d/.test(step.Label)) return 'ok';
  if (/^(BYE|CANCEL)/.test(step.Label)) return 'bye';
  if (/^[3-6]\d\d|no answer/.test(step.Label)) return 'fail';
  return 'other';
}

export function renderSequence(map: WireCallMap): HTMLElement {
  const columns = new Map(map.Participants.map((participant, index) => [participant.Key, index]));
  const width = GUTTER + map.Participants.length * COLUMN + 20;
  const height = TOP + map.Timeline.length * ROW + 30;
  const svg = s('svg', {
    class: 'sequence',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': 'Sequence diagram of the call',
    'data-testid': 'sequence',
  });
  const defs = s('defs');
  for (const kind of ['invite', 'provisional', 'ok', 'bye', 'fail', 'audio', 'reinvite', 'other']) {
    const marker = s('marker', {
      id: `arrow-${kind}`,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse',
    });
    marker.append(s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrowhead ${kind}` }));
    defs.append(marker);
  }
  svg.append(defs);
  const x = (key: string) => GUTTER + (columns.get(key) ?? 0) * COLUMN + COLUMN / 2;
  map.Participants.forEach((participant, index) => {
    const cx = GUTTER + index * COLUMN + COLUMN / 2;
    svg.append(s('line', { x1: cx, y1: TOP - 8, x2: cx, y2: height - 10, class: 'lifeline' }));
    const actor = s('g', { class: 'actor-group', 'data-key': participant.Key });
    actor.append(s('title', {}, participant.Label));
    actor.append(
      s('rect', {
        x: cx - COLUMN / 2 + 8,
        y: 8,
        width: COLUMN - 16,
        height: 34,
        rx: 8,
        class: `actor ${participant.Kind}`,
      }),
    );
    const label = participant.Label.length > 22 ? `${participant.Label.slice(0, 21)}…` : participant.Label;
    actor.append(s('text', { x: cx, y: 30, class: 'actor-label', 'text-anchor': 'middle' }, label));
    svg.append(actor);
  });
  map.Timeline.forEach((step, index) => {
    const y = TOP + index * ROW + ROW / 2;
    svg.append(s('text', { x: 8, y: y + 4, class: 'offset' }, `+${(step.OffsetMs / 1000).toFixed(3)}s`));
    const kind = stepClass(step);
    const group = s('g', { class: `step ${kind}`, 'data-fact': step.Fact });
    /** The step's detail when it is left off the drawing. */
    let hidden: string | null = null;
    if (step.Kind === 'note' || step.From === step.To) {
      const label = step.Detail ? `${step.Label} · ${step.Detail}` : step.Label;
      const boxWidth = Math.min(width - GUTTER - 8, 16 + label.length * 6.4);
      // On its lifeline, but inside the drawing (a note on the last column would be cut off).
      const cx = Math.min(Math.max(x(step.From), GUTTER + boxWidth / 2), width - 4 - boxWidth / 2);
      group.append(
        s('rect', { x: cx - boxWidth / 2, y: y - 12, width: boxWidth, height: 22, rx: 6, class: 'note-box' }),
      );
      group.append(s('text', { x: cx, y: y + 3, 'text-anchor': 'middle', class: 'note-label' }, label));
    } else {
      const x1 = x(step.From);
      const x2 = x(step.To);
      const direction = x2 > x1 ? 1 : -1;
      group.append(
        s('line', {
          x1: x1 + direction * 4,
          y1: y + 6,
          x2: x2 - direction * 4,
          y2: y + 6,
          class: 'arrow',
          'marker-end': `url(#arrow-${kind})`,
        }),
      );
      // A detail too long for the arrow (it would cover the offsets or other arrows) goes to the tooltip.
      const full = step.Detail ? `${step.Label} (${step.Detail})` : step.Label;
      const fits = full.length * ARROW_CHAR_WIDTH <= Math.abs(x2 - x1) + COLUMN * 0.8;
      const label = fits ? full : step.Label;
      if (!fits) hidden = step.Detail;
      group.append(
        s('text', { x: (x1 + x2) / 2, y: y + 1, 'text-anchor': 'middle', class: 'arrow-label' }, label),
      );
    }
    const tooltip = `${clock(step.Time)} · ${step.Fact}${hidden ? ` · ${hidden}` : ''}${step.CallLegId ? ` · leg ${step.CallLegId}` : ''}`;
    group.append(s('title', {}, tooltip));
    svg.append(group);
  });
  return h('div', { class: 'sequence-wrap' }, svg);
}

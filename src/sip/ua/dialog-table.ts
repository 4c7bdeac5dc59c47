/**
 * The confirmed dialogs of this user agent, by Call-ID and both tags (RFC 3261 §12.2.2): where the
 * UA sends the requests, ACKs and retransmitted 2xx that arrive inside a dialog.
 */
import { dialogKey } from '../dialog.js';
import type { DialogUsage } from './usage.js';

export class DialogTable {
  private readonly usages = new Map<string, DialogUsage>();

  /** Route what arrives in `usage`'s confirmed dialog to it (no-op before it has one). */
  bind(usage: DialogUsage): void {
    if (usage.dialog) this.usages.set(usage.dialog.key, usage);
  }

  unbind(usage: DialogUsage): void {
    if (usage.dialog) this.usages.delete(usage.dialog.key);
  }

  /** The usage of the dialog with this key (see `dialogKey`). */
  get(key: string): DialogUsage | undefined {
    return this.usages.get(key);
  }

  /** The usage whose dialog has Call-ID `sipCallId`, our tag `localTag` and the peer's `remoteTag`. */
  find(sipCallId: string, localTag: string, remoteTag: string): DialogUsage | undefined {
    return this.usages.get(dialogKey(sipCallId, localTag, remoteTag));
  }

  get size(): number {
    return this.usages.size;
  }
}

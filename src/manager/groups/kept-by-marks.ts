/**
 * Answers about a group that depend only on its document (never changed) and its marks
 * (numbered, never changed): each is kept with the number of the last mark it read and served
 * again while no mark follows that one — one point read instead of reading and decoding the whole
 * group. Least recently used go first past a size budget. GET /groups/<id> keeps its finished
 * groups' answers so (group-progress.ts), GET /groups its groups' summaries (group-list.ts).
 */
import type { Store } from '../../store/index.js';

export interface KeptByMarksOptions<T> {
  store: Pick<Store, 'groupMarkExists'>;
  /** What all kept answers may come to, in the units of `sizeOf`. */
  maxSize: number;
  sizeOf(value: T): number;
}

/** What a build answers: the value, the last mark it read, and whether to keep it. */
export interface BuiltByMarks<T> {
  value: T;
  last: number;
  keep: boolean;
}

export class KeptByMarks<T> {
  private readonly kept = new Map<string, { last: number; value: T; size: number }>();
  private size = 0;

  constructor(private readonly options: KeptByMarksOptions<T>) {}

  /** The kept answer for group `id` while no mark follows the one it read; else `build`'s. */
  async get(id: string, build: () => Promise<BuiltByMarks<T>>): Promise<T> {
    const cached = this.kept.get(id);
    if (cached && !(await this.options.store.groupMarkExists(id, cached.last + 1))) {
      if (this.kept.get(id) === cached) {
        // Most recently used last.
        this.kept.delete(id);
        this.kept.set(id, cached);
      }
      return cached.value;
    }
    const built = await build();
    if (built.keep) this.keep(id, built.last, built.value);
    else this.drop(id);
    return built.value;
  }

  private drop(id: string): void {
    const entry = this.kept.get(id);
    if (!entry) return;
    this.kept.delete(id);
    this.size -= entry.size;
  }

  private keep(id: string, last: number, value: T): void {
    this.drop(id);
    const size = this.options.sizeOf(value);
    if (size > this.options.maxSize / 4) return;
    this.kept.set(id, { last, value, size });
    this.size += size;
    for (const [oldest, entry] of this.kept) {
      if (this.size <= this.options.maxSize) break;
      this.kept.delete(oldest);
      this.size -= entry.size;
    }
  }
}

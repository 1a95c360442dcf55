/** The local stack's sample jobs: post them over HTTP, then follow them until they are done. */
import { hashPayload } from '../handlers/index.js';

export interface PostedJob {
  id: string;
  body: string;
}

export interface SampleProgress {
  completed: number;
  running: number;
  /** Completed jobs whose stored hash is not the MD5 of the body that was posted. */
  wrongHashes: number;
}

/** POSTs `count` JSON jobs to the manager at `base`; the first is the README's `{"example":"data"}`. */
export async function postSampleJobs(base: string, count: number): Promise<PostedJob[]> {
  const posted: PostedJob[] = [];
  for (let i = 0; i < count; i += 1) {
    const body = i === 0 ? '{"example":"data"}' : JSON.stringify({ sample: i, at: new Date().toISOString() });
    const response = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = (await response.json()) as { id: string };
    if (response.status !== 202)
      throw new Error(`POST answered ${response.status}: ${JSON.stringify(answer)}`);
    posted.push({ id: answer.id, body });
  }
  return posted;
}

/** Reads every posted job once and counts where they are. */
export async function sampleProgress(base: string, posted: readonly PostedJob[]): Promise<SampleProgress> {
  const views = await Promise.all(
    posted.map(async (job) => {
      const view = (await (await fetch(`${base}/jobs/${job.id}`)).json()) as {
        state: string;
        result?: { hash: string };
      };
      return { view, body: job.body };
    }),
  );
  const completed = views.filter(({ view }) => view.state === 'completed');
  return {
    completed: completed.length,
    running: views.filter(({ view }) => view.state === 'running').length,
    wrongHashes: completed.filter(({ view, body }) => view.result?.hash !== hashPayload(body)).length,
  };
}

// An example handler module: load it with
//   distributed-workers worker --handlers examples/handlers.mjs --types wordcount,reverse
// and let the manager accept its types (JOB_TYPES unset accepts only the built-in ones):
//   distributed-workers manager --job-types hash,wordcount,reverse
// Each export is a job type; a handler gets the parsed payload and a context
// { jobId, type, attempt, rawPayload, params, log, signal } and returns an object to store.

/** Counts the words in payload.text. */
export async function wordcount(payload, context) {
  const text = typeof payload?.text === 'string' ? payload.text : '';
  context.log.debug({ chars: text.length }, 'counting words');
  return { words: text.split(/\s+/).filter(Boolean).length };
}

/** Reverses payload.text; honours the abort signal like a long handler should. */
export async function reverse(payload, context) {
  if (context.signal.aborted) throw context.signal.reason;
  return { reversed: [...String(payload?.text ?? '')].reverse().join('') };
}

/** Small pieces every page uses: times, numbers, states, errors, answers, JSON, confirm and copy. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, describeError } from './api';
import { formatAbsolute, formatNumber, formatRelative } from './format';
import type { ActionState } from './hooks';
import { ID_PATTERN } from './routes';

/** "3 minutes ago", with the exact ISO time on hover and in the markup. */
export function Time({ iso, absolute = false }: { iso: string | undefined; absolute?: boolean }) {
  if (iso === undefined) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {absolute ? `${formatAbsolute(iso)} (${formatRelative(iso)})` : formatRelative(iso)}
    </time>
  );
}

export function Num({ value }: { value: number | null | undefined }) {
  return <span class="num">{value === null || value === undefined ? '—' : formatNumber(value)}</span>;
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`state state-${state}`}>{state}</span>;
}

/** A job's or a group's id, linking to its page. */
export function IdLink({ page, id }: { page: 'jobs' | 'groups'; id: string }) {
  return (
    <a class="id" href={`#/${page}/${id}`}>
      {id}
    </a>
  );
}

/** A form that opens a job's or a group's page by its id, or says why the text is not one. */
export function GoToId(props: {
  page: 'jobs' | 'groups';
  /** The form's accessible name. */
  title: string;
  inputId: string;
  label: string;
  button: string;
  /** What to say when the text is not an id. */
  notAnId: string;
}) {
  const [problem, setProblem] = useState<string | undefined>(undefined);
  return (
    <form
      class="inline-form"
      aria-label={props.title}
      onSubmit={(event) => {
        event.preventDefault();
        const id = String(new FormData(event.currentTarget).get('id') ?? '').trim();
        if (!ID_PATTERN.test(id)) {
          setProblem(props.notAnId);
          return;
        }
        setProblem(undefined);
        location.hash = `#/${props.page}/${id.toLowerCase()}`;
      }}
    >
      <label for={props.inputId}>{props.label}</label>
      <input id={props.inputId} name="id" type="search" autocomplete="off" spellcheck={false} size={38} />
      <button type="submit">{props.button}</button>
      {problem ? (
        <span class="error" role="alert">
          {problem}
        </span>
      ) : null}
    </form>
  );
}

/** A table's header row: a column header per name. */
export function ColumnHeads({ names }: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th key={name} scope="col">
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** A failed read: what the API said, or that a key is needed (the key form at the top asks for it). */
export function ReadError({ error }: { error: unknown }) {
  if (error === undefined) return null;
  if (error instanceof ApiError && error.status === 401)
    return (
      <p class="note" role="status">
        This needs an API key: enter one above.
      </p>
    );
  return (
    <p class="error" role="alert">
      Could not read it: {describeError(error)}
    </p>
  );
}

/** What the last button did: its answer in short, or its error. */
export function ActionResult({
  state,
  summary,
}: {
  state: ActionState;
  summary?: (answer: unknown) => string;
}) {
  if (state.busy) return <p role="status">{state.label}…</p>;
  if (state.error !== undefined)
    return (
      <p class="error" role="alert">
        {state.label} failed: {state.error}
      </p>
    );
  if (state.label === undefined) return null;
  return (
    <p class="ok" role="status">
      {state.label}: done{summary ? ` — ${summary(state.answer)}` : ''}
    </p>
  );
}

export function JsonBlock({ value }: { value: unknown }) {
  return (
    <pre class="json">
      <code>{JSON.stringify(value, null, 2)}</code>
    </pre>
  );
}

/** A button that asks once more before it acts, without a modal dialog. */
export function ConfirmButton({
  children,
  question,
  onConfirm,
  disabled = false,
}: {
  children: ComponentChildren;
  question: string;
  onConfirm(): void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const no = useRef<HTMLButtonElement>(null);
  // The button that was pressed is gone: the keyboard's focus goes to the safe answer.
  useEffect(() => {
    if (asking) no.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" disabled={disabled} onClick={() => setAsking(true)}>
        {children}
      </button>
    );
  return (
    <span class="confirm">
      <span>{question}</span>{' '}
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes
      </button>{' '}
      <button type="button" ref={no} onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}

/** A command to copy, shown in full; the Copy button puts it on the clipboard when the browser lets it. */
export function CopyText({ text }: { text: string }) {
  const [copied, setCopied] = useState<string | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('copied');
    } catch {
      // Clipboard access needs a secure context (https or localhost): select it for Ctrl+C.
      const selection = getSelection();
      const code = document.getElementById('copy-text');
      if (selection && code) selection.selectAllChildren(code);
      setCopied('selected: press Ctrl+C (or ⌘C) to copy');
    }
  };
  return (
    <div class="copy">
      <pre>
        <code id="copy-text">{text}</code>
      </pre>
      <button type="button" onClick={copy}>
        Copy
      </button>{' '}
      {copied === undefined ? null : <span role="status">{copied}</span>}
    </div>
  );
}

/** A labelled figure: "completed 1,234". */
export function Figure({ label, value, hint }: { label: string; value: number | undefined; hint?: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd title={hint}>
        <Num value={value} />
      </dd>
    </div>
  );
}

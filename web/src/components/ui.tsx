import { useEffect, useId, useRef, type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';
import type { CombinedError } from '@urql/core';
import { readable, type ReadableError } from '../api/errors';
import { formatAud, formatBtc, formatSats } from '../lib/money';
import { formatDateTime } from '../lib/time';

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'secondary' | 'danger' | 'ghost'; busy?: boolean };

export function Button({ variant = 'primary', busy, children, disabled, className, type = 'button', ...rest }: ButtonProps) {
  return (
    <button type={type} className={`btn btn-${variant}${className ? ' ' + className : ''}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy ? <span className="spinner spinner-inline" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

type FieldProps = { label: string; hint?: ReactNode; error?: string; children?: never } & InputHTMLAttributes<HTMLInputElement>;

/** A labelled input with its hint and error tied to it for screen readers. */
export function Field({ label, hint, error, id, className, ...rest }: FieldProps) {
  const auto = useId();
  const inputId = id ?? auto;
  const hintId = hint ? `${inputId}-hint` : undefined;
  const errorId = error ? `${inputId}-error` : undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ' ' + className : ''}`}>
      <label htmlFor={inputId}>{label}</label>
      <input id={inputId} aria-invalid={error ? true : undefined} aria-describedby={[hintId, errorId].filter(Boolean).join(' ') || undefined} {...rest} />
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

type SelectProps = { label: string; hint?: ReactNode; error?: string; options: { value: string; label: string }[] } & SelectHTMLAttributes<HTMLSelectElement>;

export function Select({ label, hint, error, options, id, ...rest }: SelectProps) {
  const auto = useId();
  const selectId = id ?? auto;
  const hintId = hint ? `${selectId}-hint` : undefined;
  const errorId = error ? `${selectId}-error` : undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={selectId}>{label}</label>
      <select id={selectId} aria-invalid={error ? true : undefined} aria-describedby={[hintId, errorId].filter(Boolean).join(' ') || undefined} {...rest}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function Checkbox({ label, hint, ...rest }: { label: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="checkbox">
      <input type="checkbox" id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...rest} />
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

export function Card({ title, actions, children, className, headingLevel = 2 }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; headingLevel?: 2 | 3 }) {
  const H = headingLevel === 2 ? 'h2' : 'h3';
  return (
    <section className={`card${className ? ' ' + className : ''}`}>
      {title || actions ? (
        <div className="card-head">
          {title ? <H className="card-title">{title}</H> : <span />}
          {actions ? <div className="card-actions">{actions}</div> : null}
        </div>
      ) : null}
      {children}
    </section>
  );
}

/** Set by the shell on navigation: the next page heading to mount takes focus (screen readers hear the new page). */
let focusNextHeading = false;
export const focusHeadingOnNextPage = (): void => {
  focusNextHeading = true;
};
export const clearHeadingFocus = (): void => {
  focusNextHeading = false;
};

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!focusNextHeading) return;
    focusNextHeading = false;
    ref.current?.focus();
  }, []);
  return (
    <header className="page-head">
      <div>
        <h1 id="page-title" tabIndex={-1} ref={ref}>
          {title}
        </h1>
        {subtitle ? <p className="page-sub">{subtitle}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function Empty({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-body">{children}</div> : null}
      {action ? <div className="empty-action">{action}</div> : null}
    </div>
  );
}

/** An API error, readable by its code, never raw JSON. */
export function ErrorBanner({ error, onRetry }: { error: CombinedError | ReadableError | null | undefined; onRetry?: () => void }) {
  if (!error) return null;
  const e = 'graphQLErrors' in error ? readable(error) : error;
  return (
    <div className="alert alert-error" role="alert" data-code={e.code}>
      <p className="alert-title">{e.title}</p>
      {e.detail ? <p className="alert-detail">{e.detail}</p> : null}
      {onRetry ? (
        <Button variant="secondary" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function Notice({ children, tone = 'info' }: { children: ReactNode; tone?: 'info' | 'success' | 'warning' }) {
  return (
    <div className={`alert alert-${tone}`} role="status">
      {children}
    </div>
  );
}

const STATUS_TONE: Record<string, string> = {
  PENDING: 'neutral',
  SUBMITTED: 'info',
  FILLED: 'success',
  PARTIALLY_FILLED: 'warning',
  FAILED: 'danger',
  CANCELLED: 'neutral',
  // Payment events (webhook deliveries).
  RECEIVED: 'info',
  PROCESSED: 'success',
  SKIPPED: 'warning',
  IGNORED: 'neutral',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${STATUS_TONE[status] ?? 'neutral'}`} data-status={status}>
      {status.replace(/_/g, ' ').toLowerCase()}
    </span>
  );
}

export const Aud = ({ cents, signed }: { cents: string | bigint | null | undefined; signed?: boolean }) =>
  cents === null || cents === undefined ? <span className="muted">—</span> : <span className="num">{formatAud(cents, { signed })}</span>;

export const Sats = ({ sats, btc }: { sats: string | bigint; btc?: boolean }) => <span className="num">{btc ? formatBtc(sats) : formatSats(sats)}</span>;

export const When = ({ iso, tz }: { iso: string | null | undefined; tz: string }) =>
  iso ? (
    <time dateTime={iso} className="num">
      {formatDateTime(iso, tz)}
    </time>
  ) : (
    <span className="muted">—</span>
  );

export function Gain({ cents }: { cents: string | bigint | null | undefined }) {
  if (cents === null || cents === undefined) return <span className="muted">—</span>;
  const v = BigInt(cents);
  return <span className={`num ${v > 0n ? 'gain' : v < 0n ? 'loss' : ''}`}>{formatAud(v, { signed: true })}</span>;
}

/** A definition list of label/value pairs. */
export function Facts({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([k, v], i) => (
        <div key={i}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Progress for long work, announced politely. */
export function Progress({ label, value, max }: { label: string; value?: number; max?: number }) {
  return (
    <div className="progress" role="status" aria-live="polite">
      <label>
        {label}
        <progress value={value} max={max} />
      </label>
    </div>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  return (
    <Button variant="secondary" onClick={() => void navigator.clipboard?.writeText(text)} aria-label={`${label}: ${text.length > 40 ? 'to clipboard' : text}`}>
      {label}
    </Button>
  );
}

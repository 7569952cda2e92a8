import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import type { CombinedError } from '@urql/core';
import { publicClient } from '../api/client';
import { readable, type ReadableError } from '../api/errors';
import { AcceptInviteMutation, LoginMutation, SignUpMutation, VerifyMfaMutation } from '../api/operations';
import { sessionFrom, setSession } from '../api/session';
import { Button, ErrorBanner, Field, Select } from '../components/ui';
import { Link, useRouter } from '../router';

export const TIMEZONES = [
  'Australia/Sydney',
  'Australia/Melbourne',
  'Australia/Brisbane',
  'Australia/Adelaide',
  'Australia/Darwin',
  'Australia/Perth',
  'Australia/Hobart',
  'Pacific/Auckland',
  'UTC',
].map((z) => ({ value: z, label: z.replace('/', ' / ').replace(/_/g, ' ') }));

function AuthFrame({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth" id="main">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/icon.svg" alt="" width="40" height="40" />
          <span>Liquid ABT</span>
        </div>
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {children}
        {footer ? <div className="auth-footer">{footer}</div> : null}
      </div>
    </main>
  );
}

/** Field-level message when the API names the field, else a banner. */
function useFormError() {
  const [error, setError] = useState<ReadableError | null>(null);
  return {
    error,
    fail: (e: CombinedError | undefined) => setError(e ? readable(e) : null),
    clear: () => setError(null),
    on: (field: string) => (error?.field === field ? (error.detail ?? error.title) : undefined),
  };
}

export function LoginScreen() {
  const client = useMemo(publicClient, []);
  const { search } = useRouter();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const err = useFormError();

  const login = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    err.clear();
    const r = await client.mutation(LoginMutation, { input: { email: email.trim(), password } }).toPromise();
    setBusy(false);
    const p = r.data?.login;
    if (!p) return err.fail(r.error);
    if (p.mfaRequired && p.mfaChallenge) {
      setChallenge(p.mfaChallenge);
      return;
    }
    if (p.accessToken && p.accessTokenExpiresAt && p.refreshToken && p.user && p.tenant) {
      setSession(sessionFrom({ accessToken: p.accessToken, accessTokenExpiresAt: p.accessTokenExpiresAt, refreshToken: p.refreshToken, user: p.user, tenant: p.tenant }));
    }
  };

  const verify = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!challenge) return;
    setBusy(true);
    err.clear();
    const r = await client.mutation(VerifyMfaMutation, { code: code.replace(/\s+/g, ''), challenge }).toPromise();
    setBusy(false);
    if (!r.data) return err.fail(r.error);
    setSession(sessionFrom(r.data.verifyMfa));
  };

  if (challenge) {
    return (
      <AuthFrame title="Two-step verification" footer={<Button variant="ghost" onClick={() => setChallenge(null)}>Back to log in</Button>}>
        <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        <form onSubmit={verify} noValidate>
          <ErrorBanner error={err.error} />
          <Field label="Authentication code" name="code" autoComplete="one-time-code" inputMode="text" autoFocus required value={code} onChange={(e) => setCode(e.target.value)} />
          <Button type="submit" busy={busy} className="btn-block">
            Verify
          </Button>
        </form>
      </AuthFrame>
    );
  }

  return (
    <AuthFrame
      title="Log in"
      footer={
        <p>
          New to Liquid ABT? <Link to={`/signup${search.get('next') ? `?next=${encodeURIComponent(search.get('next')!)}` : ''}`}>Create an account</Link>
        </p>
      }
    >
      <form onSubmit={login} noValidate>
        <ErrorBanner error={err.error} />
        <Field label="Email" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <Button type="submit" busy={busy} className="btn-block">
          Log in
        </Button>
      </form>
    </AuthFrame>
  );
}

/** Mirrors the API's rule (12–256 characters, three kinds, not the email's name); the API checks again. */
export function passwordProblem(password: string, email: string): string | undefined {
  if (password.length === 0) return undefined;
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (password.length < 12) return 'Use at least 12 characters';
  if (password.length > 256) return 'Use at most 256 characters';
  if (kinds < 3) return 'Mix at least three of: lower case, upper case, digits, symbols';
  const name = email.split('@')[0]?.toLowerCase();
  if (name && name.length > 0 && password.toLowerCase().includes(name)) return 'Do not include your email name';
  return undefined;
}

export function SignUpScreen() {
  const client = useMemo(publicClient, []);
  const [tenantName, setTenantName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [timezone, setTimezone] = useState('Australia/Sydney');
  const [busy, setBusy] = useState(false);
  const [touched, setTouched] = useState(false);
  const err = useFormError();
  const pwProblem = passwordProblem(password, email);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setTouched(true);
    if (pwProblem || !tenantName.trim() || !email.trim()) return;
    setBusy(true);
    err.clear();
    const r = await client.mutation(SignUpMutation, { input: { tenantName: tenantName.trim(), email: email.trim(), password, timezone } }).toPromise();
    setBusy(false);
    if (!r.data) return err.fail(r.error);
    setSession(sessionFrom(r.data.signUp));
  };

  return (
    <AuthFrame
      title="Create your account"
      footer={
        <p>
          Already have an account? <Link to="/login">Log in</Link>
        </p>
      }
    >
      <p className="muted">Set up your business's bitcoin treasury. You will be its owner.</p>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={err.error && !err.error.field ? err.error : null} />
        <Field
          label="Business name"
          name="tenantName"
          autoComplete="organization"
          required
          value={tenantName}
          onChange={(e) => setTenantName(e.target.value)}
          error={touched && !tenantName.trim() ? 'Enter your business name' : err.on('tenantName')}
        />
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={touched && !email.trim() ? 'Enter your email' : err.error?.code === 'INVALID_EMAIL' || err.error?.code === 'EMAIL_TAKEN' ? err.error.title : err.on('email')}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          hint="At least 12 characters, mixing three of: lower case, upper case, digits, symbols."
          error={(touched || password.length >= 12) && pwProblem ? pwProblem : err.error?.code === 'WEAK_PASSWORD' ? err.error.detail : undefined}
        />
        <Select label="Timezone" hint="Daily caps, schedules and the cut-off follow it." options={TIMEZONES} value={timezone} onChange={(e) => setTimezone(e.target.value)} />
        <Button type="submit" busy={busy} className="btn-block">
          Create account
        </Button>
      </form>
    </AuthFrame>
  );
}

export function AcceptInviteScreen() {
  const client = useMemo(publicClient, []);
  const { search, navigate } = useRouter();
  const token = search.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const err = useFormError();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    err.clear();
    const r = await client.mutation(AcceptInviteMutation, { token, password: password || null }).toPromise();
    setBusy(false);
    if (!r.data) return err.fail(r.error);
    setSession(sessionFrom(r.data.acceptInvite));
    navigate('/', { replace: true });
  };

  return (
    <AuthFrame title="Join your team" footer={<Link to="/login">Log in instead</Link>}>
      {token ? (
        <form onSubmit={submit} noValidate>
          <p>You have been invited to a business on Liquid ABT. New here? Choose a password. Already have an account? Enter its password.</p>
          <ErrorBanner error={err.error} />
          <Field label="Password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          <Button type="submit" busy={busy} className="btn-block">
            Accept invitation
          </Button>
        </form>
      ) : (
        <p>This link has no invitation token. Ask whoever invited you for a new link.</p>
      )}
    </AuthFrame>
  );
}

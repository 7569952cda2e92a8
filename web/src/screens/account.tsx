import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { readable, type ReadableError } from '../api/errors';
import { useLogout } from '../api/logout';
import { ConfirmMfaMutation, DisableMfaMutation, EnrollMfaMutation, SwitchTenantMutation } from '../api/operations';
import { sessionFrom, setSession } from '../api/session';
import { useViewer } from '../api/viewer';
import { QrCode } from '../components/qr';
import { Button, Card, CopyButton, ErrorBanner, Facts, Field, Notice, PageHeader } from '../components/ui';

export function AccountScreen() {
  const { me, role } = useViewer();
  return (
    <div>
      <PageHeader title="Account" subtitle={me.email} />
      <Card title="You">
        <Facts
          items={[
            ['Email', me.email],
            ['Business', me.tenant.name],
            ['Role', role.toLowerCase()],
            ['Timezone', me.tenant.timezone],
            ['Two-step verification', me.mfaEnabled ? 'on' : 'off'],
          ]}
        />
      </Card>
      <MfaCard />
      <TenantSwitcher />
      <SessionCard />
    </div>
  );
}

function MfaCard() {
  const { me, refetch } = useViewer();
  const [enrollment, setEnrollment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const [problem, setProblem] = useState<string>();
  const [enroll, runEnroll] = useMutation(EnrollMfaMutation);
  const [confirm, runConfirm] = useMutation(ConfirmMfaMutation);
  const [disable, runDisable] = useMutation(DisableMfaMutation);
  const start = async (): Promise<void> => {
    const r = await runEnroll({});
    if (r.data) setEnrollment(r.data.enrollMfa);
  };
  const finish = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!/^\d{6}$/.test(code.trim())) return setProblem('Enter the 6-digit code your app shows');
    setProblem(undefined);
    const r = await runConfirm({ code: code.trim() });
    if (r.data) {
      setCodes(r.data.confirmMfa.recoveryCodes);
      setEnrollment(null);
      setCode('');
      refetch();
    }
  };
  const turnOff = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!code.trim()) return setProblem('Enter a current code or a recovery code');
    setProblem(undefined);
    const r = await runDisable({ code: code.trim() });
    if (r.data) {
      setCode('');
      refetch();
    }
  };
  const mutationError = enroll.error ?? confirm.error ?? disable.error;
  const err: ReadableError | undefined = mutationError ? readable(mutationError) : undefined;

  if (codes) {
    return (
      <Card title="Save your recovery codes">
        <Notice tone="warning">These are shown once. Each logs you in once if you lose your phone. Store them somewhere safe.</Notice>
        <ol className="recovery-codes" data-testid="recovery-codes">
          {codes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ol>
        <div className="form-actions">
          <CopyButton text={codes.join('\n')} label="Copy codes" />
          <Button onClick={() => setCodes(null)}>I have saved them</Button>
        </div>
      </Card>
    );
  }
  if (enrollment) {
    return (
      <Card title="Set up two-step verification">
        <ol className="steps">
          <li>
            Scan this code with an authenticator app (1Password, Google Authenticator, Authy…).
            <QrCode value={enrollment.otpauthUri} label="QR code for your authenticator app" />
          </li>
          <li>
            Or enter this key by hand: <code data-testid="mfa-secret">{enrollment.secret}</code>
          </li>
          <li>Enter the 6-digit code the app shows.</li>
        </ol>
        <form className="inline-form" onSubmit={finish} noValidate>
          <Field label="6-digit code" name="mfa-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} error={problem} />
          <Button type="submit" busy={confirm.fetching}>
            Turn on
          </Button>
          <Button variant="ghost" onClick={() => setEnrollment(null)}>
            Cancel
          </Button>
        </form>
        <ErrorBanner error={err} />
      </Card>
    );
  }
  return (
    <Card title="Two-step verification">
      {me.mfaEnabled ? (
        <>
          <p>
            <span className="badge badge-success">on</span> Logging in needs a code from your authenticator app.
          </p>
          <form className="inline-form" onSubmit={turnOff} noValidate>
            <Field label="Code to turn it off" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} error={problem} />
            <Button type="submit" variant="danger" busy={disable.fetching}>
              Turn off
            </Button>
          </form>
        </>
      ) : (
        <>
          <p>Protect your account with a code from an authenticator app each time you log in.{me.tenant.requireMfaForAdmins ? ' Your business requires it for owners and admins.' : ''}</p>
          <Button onClick={() => void start()} busy={enroll.fetching}>
            Set up two-step verification
          </Button>
        </>
      )}
      <ErrorBanner error={err} />
    </Card>
  );
}

function TenantSwitcher() {
  const { tenants, me } = useViewer();
  const [result, run] = useMutation(SwitchTenantMutation);
  if (tenants.length < 2) {
    return (
      <Card title="Businesses">
        <p>You belong to {me.tenant.name} only. An invitation from another business adds it here.</p>
      </Card>
    );
  }
  return (
    <Card title="Switch business">
      <ul className="list">
        {tenants.map((t) => (
          <li key={t.tenant.id} className="row-between">
            <span>
              {t.tenant.name} <span className="muted small">{t.role.toLowerCase()}</span>
            </span>
            {t.tenant.id === me.tenant.id ? (
              <span className="badge badge-info">current</span>
            ) : (
              <Button
                variant="secondary"
                busy={result.fetching}
                onClick={() =>
                  void run({ tenantId: t.tenant.id }).then((r) => {
                    if (r.data) setSession(sessionFrom(r.data.switchTenant));
                  })
                }
              >
                Switch to {t.tenant.name}
              </Button>
            )}
          </li>
        ))}
      </ul>
      <ErrorBanner error={result.error} />
    </Card>
  );
}

function SessionCard() {
  const logout = useLogout();
  const [busy, setBusy] = useState<'one' | 'all' | null>(null);
  const run = (everywhere: boolean): void => {
    setBusy(everywhere ? 'all' : 'one');
    void logout(everywhere);
  };
  return (
    <Card title="Sessions">
      <div className="form-actions">
        <Button variant="secondary" busy={busy === 'one'} onClick={() => run(false)} data-testid="logout">
          Log out
        </Button>
        <Button variant="danger" busy={busy === 'all'} onClick={() => run(true)}>
          Log out everywhere
        </Button>
      </div>
    </Card>
  );
}

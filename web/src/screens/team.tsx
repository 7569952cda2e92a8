import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  ChangeMemberRoleMutation,
  CreateApiKeyMutation,
  InviteUserMutation,
  MembersQuery,
  RemoveMemberMutation,
  RevokeApiKeyMutation,
  RevokeInvitationMutation,
  SetRequireMfaMutation,
  TeamAdminQuery,
} from '../api/operations';
import { useViewer } from '../api/viewer';
import type { Role } from '../gql/graphql';
import { Button, Card, Checkbox, CopyButton, Empty, ErrorBanner, Field, Loading, Notice, PageHeader, Select, When } from '../components/ui';

const ROLES: { value: Role; label: string }[] = [
  { value: 'OWNER', label: 'Owner' },
  { value: 'ADMIN', label: 'Admin' },
  { value: 'USER', label: 'User' },
  { value: 'VIEWER', label: 'Viewer' },
];
const SCOPES = [
  { value: 'read:treasury', label: 'Read treasury (rules, purchases)' },
  { value: 'write:purchases', label: 'Request purchases' },
  { value: 'read:compliance', label: 'Read the audit trail' },
  { value: 'read:market', label: 'Read prices' },
];

export function TeamScreen() {
  const { can } = useViewer();
  return (
    <div>
      <PageHeader title="Team & access" subtitle="Who can see and change your treasury, and the keys partners use." />
      <Members />
      {can('user:manage') ? <Invitations /> : null}
      {can('apikey:read') ? <ApiKeys /> : null}
      <MfaPolicy />
    </div>
  );
}

function Members() {
  const { can, me, tz } = useViewer();
  const [{ data, error, fetching }, refetch] = useQuery({ query: MembersQuery });
  const [change, runChange] = useMutation(ChangeMemberRoleMutation);
  const [remove, runRemove] = useMutation(RemoveMemberMutation);
  const manage = can('user:manage');
  const owner = can('owner:manage');
  return (
    <Card title="Members">
      <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      {!data && fetching ? <Loading /> : null}
      {data ? (
        <table className="table responsive">
          <caption className="sr-only">Members</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Joined</th>
              {manage ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {data.members.map((m) => {
              const self = m.userId === me.id;
              // Granting or taking away OWNER needs an OWNER (the API refuses it otherwise).
              const editable = manage && !self && (owner || m.role !== 'OWNER');
              return (
                <tr key={m.userId}>
                  <td data-label="Email">
                    {m.email}
                    {self ? <span className="muted small"> (you)</span> : null}
                  </td>
                  <td data-label="Role">
                    {editable ? (
                      <Select
                        label={`Role of ${m.email}`}
                        className="sr-label"
                        value={m.role}
                        options={ROLES.filter((r) => owner || r.value !== 'OWNER')}
                        onChange={(e) => void runChange({ userId: m.userId, role: e.target.value as Role }).then(() => refetch({ requestPolicy: 'network-only' }))}
                      />
                    ) : (
                      m.role.toLowerCase()
                    )}
                  </td>
                  <td data-label="Joined">
                    <When iso={m.joinedAt} tz={tz} />
                  </td>
                  {manage ? (
                    <td data-label="Actions">
                      {editable ? (
                        <Button
                          variant="danger"
                          onClick={() => {
                            if (window.confirm(`Remove ${m.email}? Their sessions for this business end.`)) void runRemove({ userId: m.userId }).then(() => refetch({ requestPolicy: 'network-only' }));
                          }}
                        >
                          Remove
                        </Button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <ErrorBanner error={change.error ?? remove.error} />
    </Card>
  );
}

function useTeamAdmin() {
  return useQuery({ query: TeamAdminQuery });
}

function Invitations() {
  const { can, tz } = useViewer();
  const [{ data, error, fetching }, refetch] = useTeamAdmin();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('VIEWER');
  const [problem, setProblem] = useState<string>();
  const [link, setLink] = useState<string>();
  const [invite, runInvite] = useMutation(InviteUserMutation);
  const [revoke, runRevoke] = useMutation(RevokeInvitationMutation);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim())) return setProblem('Enter an email address');
    setProblem(undefined);
    const r = await runInvite({ email: email.trim(), role });
    if (r.data) {
      setLink(`${location.origin}/invite?token=${encodeURIComponent(r.data.inviteUser.token)}`);
      setEmail('');
      refetch({ requestPolicy: 'network-only' });
    }
  };
  const pending = (data?.invitations ?? []).filter((i) => !i.acceptedAt && !i.revokedAt);
  return (
    <Card title="Invitations">
      <form className="inline-form" onSubmit={submit} noValidate>
        <Field label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={problem} />
        <Select label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)} options={ROLES.filter((r) => can('owner:manage') || r.value !== 'OWNER')} />
        <Button type="submit" busy={invite.fetching}>
          Invite
        </Button>
      </form>
      <ErrorBanner error={invite.error} />
      {link ? (
        <Notice tone="success">
          <p>Invitation created. Send this link to them (shown once, valid 7 days):</p>
          <div className="copy-row">
            <code>{link}</code>
            <CopyButton text={link} label="Copy link" />
          </div>
        </Notice>
      ) : null}
      <ErrorBanner error={data ? null : error} />
      {!data && fetching ? <Loading /> : null}
      {data && pending.length === 0 ? <Empty title="No pending invitations" /> : null}
      {pending.length > 0 ? (
        <ul className="list">
          {pending.map((i) => (
            <li key={i.id} className="row-between">
              <span>
                {i.email} · {i.role.toLowerCase()} · expires <When iso={i.expiresAt} tz={tz} />
              </span>
              <Button variant="secondary" busy={revoke.fetching} onClick={() => void runRevoke({ id: i.id }).then(() => refetch({ requestPolicy: 'network-only' }))}>
                Revoke
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
    </Card>
  );
}

function ApiKeys() {
  const { can, tz } = useViewer();
  const [{ data, error, fetching }, refetch] = useTeamAdmin();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read:treasury']);
  const [problem, setProblem] = useState<string>();
  const [created, setCreated] = useState<string>();
  const [create, runCreate] = useMutation(CreateApiKeyMutation);
  const [revoke, runRevoke] = useMutation(RevokeApiKeyMutation);
  const manage = can('apikey:manage');
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!name.trim()) return setProblem('Name the key after who uses it');
    if (scopes.length === 0) return setProblem('Choose at least one scope');
    setProblem(undefined);
    const r = await runCreate({ input: { name: name.trim(), scopes } });
    if (r.data) {
      setCreated(r.data.createApiKey.key);
      setName('');
      refetch({ requestPolicy: 'network-only' });
    }
  };
  const keys = data?.apiKeys ?? [];
  return (
    <Card title="API keys">
      {manage ? (
        <form onSubmit={submit} noValidate>
          <Field label="Key name" value={name} onChange={(e) => setName(e.target.value)} error={problem} placeholder="Accounting partner" />
          <fieldset className="checks">
            <legend>Scopes</legend>
            {SCOPES.map((s) => (
              <Checkbox
                key={s.value}
                label={s.label}
                checked={scopes.includes(s.value)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s.value] : scopes.filter((x) => x !== s.value))}
              />
            ))}
          </fieldset>
          <Button type="submit" busy={create.fetching}>
            Create key
          </Button>
        </form>
      ) : null}
      <ErrorBanner error={create.error ?? revoke.error} />
      {created ? (
        <Notice tone="warning">
          <p>
            <strong>Copy this key now — it is shown once.</strong>
          </p>
          <div className="copy-row">
            <code data-testid="new-api-key">{created}</code>
            <CopyButton text={created} label="Copy key" />
          </div>
          <Button variant="ghost" onClick={() => setCreated(undefined)}>
            Done
          </Button>
        </Notice>
      ) : null}
      <ErrorBanner error={data ? null : error} />
      {!data && fetching ? <Loading /> : null}
      {data && keys.length === 0 ? <Empty title="No API keys">Partners and integrations use keys to read your treasury or request purchases.</Empty> : null}
      {keys.length > 0 ? (
        <ul className="list">
          {keys.map((k) => (
            <li key={k.id} className="row-between">
              <span>
                <strong>{k.name}</strong> <code>abt_live_{k.prefix}_…</code>
                <span className="muted small block">
                  {k.scopes.join(', ')} · created <When iso={k.createdAt} tz={tz} /> · last used {k.lastUsedAt ? <When iso={k.lastUsedAt} tz={tz} /> : 'never'}
                </span>
              </span>
              {k.revokedAt ? (
                <span className="badge badge-neutral">revoked</span>
              ) : manage ? (
                <Button variant="danger" onClick={() => void runRevoke({ id: k.id }).then(() => refetch({ requestPolicy: 'network-only' }))}>
                  Revoke
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </Card>
  );
}

function MfaPolicy() {
  const { can, me, refetch } = useViewer();
  const [result, run] = useMutation(SetRequireMfaMutation);
  const on = me.tenant.requireMfaForAdmins;
  return (
    <Card title="Two-step verification policy">
      <p>
        {on ? 'Required' : 'Not required'} for owners and admins. When required, sensitive actions (integrations, members, API keys) need a session verified with an authenticator code.
      </p>
      {can('tenant:security') ? (
        <>
          {!me.mfaEnabled && !on ? <p className="muted small">Turn on two-step verification for yourself first (Account), or you will be locked out of those actions.</p> : null}
          <Button variant={on ? 'secondary' : 'primary'} busy={result.fetching} onClick={() => void run({ enabled: !on }).then(() => refetch())}>
            {on ? 'Stop requiring it' : 'Require it for owners and admins'}
          </Button>
        </>
      ) : null}
      <ErrorBanner error={result.error} />
    </Card>
  );
}

import { useCallback } from 'react';
import { useClient } from 'urql';
import { useRouter } from '../router';
import { LogoutEverywhereMutation, LogoutMutation } from './operations';
import { getSession, setSession } from './session';

/** Ends this session (or every session of the user) and lands on a plain log-in page. */
export function useLogout(): (everywhere?: boolean) => Promise<void> {
  const client = useClient();
  const { navigate } = useRouter();
  return useCallback(
    async (everywhere = false) => {
      const s = getSession();
      if (everywhere) await client.mutation(LogoutEverywhereMutation, {}).toPromise();
      else if (s) await client.mutation(LogoutMutation, { refreshToken: s.refreshToken }).toPromise();
      // Logging out on purpose is not "come back to this page after logging in".
      navigate('/login', { replace: true });
      setSession(null);
    },
    [client, navigate],
  );
}

import type { Config } from '../../../lib/config';
import { MyobBooksClient } from './myob.client';
import { XeroBooksClient } from './xero.client';

/** The configured ledger apps of this process; one client per provider so its limiter and token refreshes are shared. */
export type LedgerClients = { xero?: XeroBooksClient; myob?: MyobBooksClient };

export function ledgerClients(config: Config, opts: { timeoutMs?: number } = {}): LedgerClients {
  const { xero, myob } = config.books;
  return {
    xero: xero
      ? new XeroBooksClient({
          clientId: xero.clientId,
          clientSecret: xero.clientSecret,
          redirectUri: xero.redirectUri,
          loginBaseUrl: xero.loginBaseUrl,
          identityBaseUrl: xero.identityBaseUrl,
          apiBaseUrl: xero.apiBaseUrl,
          timeoutMs: opts.timeoutMs,
        })
      : undefined,
    myob: myob
      ? new MyobBooksClient({
          apiKey: myob.apiKey,
          apiSecret: myob.apiSecret,
          redirectUri: myob.redirectUri,
          secureBaseUrl: myob.secureBaseUrl,
          apiBaseUrl: myob.apiBaseUrl,
          timeoutMs: opts.timeoutMs,
        })
      : undefined,
  };
}

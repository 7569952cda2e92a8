/** Why a backup or restore stopped: a stable code, a message safe to print (never a credential). */
export const BackupErrorCode = {
  NO_DATABASE_URL: 'NO_DATABASE_URL',
  PG_TOOL_FAILED: 'PG_TOOL_FAILED',
  PG_VERSION_MISMATCH: 'PG_VERSION_MISMATCH',
  BACKUP_NOT_FOUND: 'BACKUP_NOT_FOUND',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  BACKUP_CHECKSUM_MISMATCH: 'BACKUP_CHECKSUM_MISMATCH',
  TARGET_IS_LIVE: 'TARGET_IS_LIVE',
  TARGET_EXISTS: 'TARGET_EXISTS',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  MIGRATIONS_MISMATCH: 'MIGRATIONS_MISMATCH',
  AUDIT_CHAIN_BROKEN: 'AUDIT_CHAIN_BROKEN',
  HOLDINGS_MISMATCH: 'HOLDINGS_MISMATCH',
} as const;
export type BackupErrorCode = (typeof BackupErrorCode)[keyof typeof BackupErrorCode];

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(`${code}: ${message}`);
    this.name = 'BackupError';
  }
}

/** A connection string with its password replaced, for messages. */
export function redactUrl(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]*@/gi, '$1***@');
}

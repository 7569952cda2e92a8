import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type SnippetVerify = (header: string, rawBody: string, secret: string, nowS?: number) => boolean;

/** The verification snippet of docs/webhooks-outbound.md, extracted and run as the receiver would. */
export function docSnippetVerifier(): SnippetVerify {
  const doc = readFileSync(join(__dirname, '../../../docs/webhooks-outbound.md'), 'utf8');
  const m = /```js verify\n([\s\S]*?)```/.exec(doc);
  if (!m?.[1]) throw new Error('verification snippet not found in docs/webhooks-outbound.md');
  const exports: Record<string, unknown> = {};
  // Runs the documented snippet exactly as published (CommonJS, `require` and `exports` given).
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const run = new Function('require', 'exports', m[1]) as (req: NodeRequire, exp: Record<string, unknown>) => void;
  run(require, exports);
  return exports.verifyLiquidSignature as SnippetVerify;
}

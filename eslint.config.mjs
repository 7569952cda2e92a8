import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'coverage/', '**/*.js', '**/*.mjs', 'web/dist/', 'web/src/gql/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Type-aware lint (#9): each file is checked with the tsconfig that includes it (root or web/).
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Baseline (#9): files that still break these type-aware rules, listed so that every other and
  // every new file is held to them. Pending: fix a file, then drop it from its list.
  // Most test entries under no-unsafe-assignment are jest's asymmetric matchers (`expect.any`,
  // `expect.stringMatching`), which jest types as `any`; most require-await entries implement
  // Promise-returning interfaces without awaiting.
  {
    files: [
      'web/src/screens/account.tsx',
      'web/src/screens/auth.tsx',
      'web/src/screens/integrations.tsx',
      'web/src/screens/purchases.tsx',
      'web/src/screens/rule-edit.tsx',
      'web/src/screens/rules.tsx',
      'web/src/screens/team.tsx',
    ],
    rules: { '@typescript-eslint/no-misused-promises': 'off' },
  },
  {
    files: [
      'subgraphs/tenant/payments/webhooks/stripe.verifier.ts',
      'test/browser/explorer.browser.test.ts',
      'test/e2e/access-matrix.e2e.test.ts',
      'test/e2e/market.e2e.test.ts',
      'test/e2e/subscriptions-access.e2e.test.ts',
      'test/e2e/unstorable-input.e2e.test.ts',
      'test/integration/audit-chain.test.ts',
      'test/integration/migrations.test.ts',
      'test/integration/treasury-live-events.test.ts',
      'web/src/lib/money.spec.ts',
    ],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: [
      'subgraphs/tenant/payments/integration.service.ts',
    ],
    rules: { '@typescript-eslint/no-unsafe-enum-comparison': 'off' },
  },
  {
    files: [
      'web/src/api/client.ts',
    ],
    rules: { '@typescript-eslint/no-unsafe-member-access': 'off' },
  },
  {
    files: [
      'gateway/edge/apq.ts',
      'gateway/gateway.ts',
      'ops/platform.ts',
      'subgraphs/market-price/feeds/kraken-ws.feed.ts',
      'subgraphs/market-price/feeds/simulated.feed.ts',
      'subgraphs/market-price/migrations/public/Migration20261125000002_price_tick.ts',
      'subgraphs/market-price/migrations/public/Migration20261125000300_price_candle.ts',
      'subgraphs/market-price/purchase-valuation.spec.ts',
      'subgraphs/tenant/migrations/public/Migration20261125000001_tenant_platform.ts',
      'subgraphs/tenant/migrations/public/Migration20261125000100_integration_route.ts',
      'subgraphs/tenant/migrations/public/Migration20261125000200_identity.ts',
      'subgraphs/tenant/migrations/public/Migration20261202001000_public_tenant_rls.ts',
      'subgraphs/tenant/payments/webhooks/stripe.verifier.ts',
      'subgraphs/treasury/exchanges/exchange-router.spec.ts',
      'subgraphs/treasury/exchanges/kraken.client.spec.ts',
      'subgraphs/treasury/exchanges/paper.exchange.spec.ts',
      'test/bench/purchase-latency.bench.ts',
      'test/bench/subscriptions.bench.ts',
      'test/e2e/access-log.e2e.test.ts',
      'test/e2e/market.e2e.test.ts',
      'test/e2e/purchase-crash.e2e.test.ts',
      'test/e2e/subscriptions.e2e.test.ts',
      'test/e2e/tenant-move.e2e.test.ts',
      'test/e2e/treasury-loop.e2e.test.ts',
      'test/integration/bus-and-queue.test.ts',
      'test/integration/purchase-execution.test.ts',
      'test/integration/tenant-isolation.test.ts',
      'test/integration/treasury-lease.test.ts',
      'test/integration/treasury-live-events.test.ts',
      'test/integration/treasury-schedules.test.ts',
      'web/src/api/client.ts',
    ],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: [
      'subgraphs/tenant/payments/integration.service.ts',
      'test/e2e/no-phone-home.e2e.test.ts',
      'web/src/api/logout.ts',
      'web/src/api/viewer.tsx',
      'web/src/app.tsx',
      'web/src/router.tsx',
      'web/src/screens/account.tsx',
      'web/src/screens/auth.tsx',
      'web/src/screens/integrations.tsx',
      'web/src/screens/purchase.tsx',
      'web/src/screens/purchases.tsx',
      'web/src/screens/rule-edit.tsx',
      'web/src/screens/rules.tsx',
      'web/src/screens/team.tsx',
    ],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  // The dashboard runs in browsers.
  { files: ['web/src/**/*.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } } },
);

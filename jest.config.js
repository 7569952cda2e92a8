/** @type {import('jest').Config} */
const swc = JSON.parse(require('fs').readFileSync(__dirname + '/.swcrc', 'utf8'));
delete swc.$schema;
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/gateway', '<rootDir>/subgraphs', '<rootDir>/workers', '<rootDir>/test', '<rootDir>/schema', '<rootDir>/web/src'],
  testMatch: ['**/*.spec.ts', '**/*.test.ts'],
  transform: {
    // The OTLP exporter loads node:http with a dynamic import(), which jest's CommonJS runtime refuses: made a require here.
    '/node_modules/@opentelemetry/.+\\.js$': ['@swc/jest', { ...swc, module: { type: 'commonjs' }, swcrc: false }],
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { ...swc, swcrc: false }],
  },
  // graphql-request and @scure/base (under otplib) ship ESM only; let swc turn them into CommonJS for jest.
  // The OTLP exporter's transport (nested under the exporter) is transformed too, wherever it sits.
  transformIgnorePatterns: ['^(?!.*/@opentelemetry/otlp-exporter-base/).*/node_modules/(?!(graphql-request|@graphql-typed-document-node|@scure|@noble|@otplib|otplib)/)'],
  setupFiles: ['reflect-metadata'],
  // A hook that starts the whole platform (migrations, four subgraphs, the gateway, workers) took 89 s once on
  // the 2-core CI machine while the other worker ran a heavy suite; a minute was not enough headroom.
  testTimeout: 180000,
  maxWorkers: 2,
};

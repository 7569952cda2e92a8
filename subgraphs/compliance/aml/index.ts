/** The AML/CTF kernel: pure, database-free; see README.md in this folder. */
export * from './abn';
export * from './abr.client';
export * from './anchor';
export * from './bitcoin-address';
export * from './business-days';
export * from './cases';
export * from './entity-types';
export * from './erasure';
export * from './errors';
export * from './kyb';
export * from './local-date';
export * from './monitoring';
export * from './retention';
export * from './risk-rating';
export * from './screening-list';
export * from './smr';

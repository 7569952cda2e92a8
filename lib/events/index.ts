export * from './catalog';
export * from './tax-facts';

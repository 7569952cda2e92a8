/**
 * The money kernel: exact decimals, branded units with named roundings, lossless JSON and the
 * GraphQL money scalars. Money never touches a float anywhere in the platform.
 */
export * from './decimal';
export * from './units';
export * from './json';
export * from './scalars';

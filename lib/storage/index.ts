export { assertObjectKey, assertObjectPrefix, isObjectKey, type ObjectInfo, type ObjectStore } from './object-store';
export { LocalObjectStore, type LocalStoreOptions } from './local-store';
export { S3ObjectStore, type S3StoreOptions } from './s3-store';
export { createObjectStore } from './from-config';

/** Books: the accounting model and the Xero / MYOB adapters (no GraphQL, queue or storage yet). See README.md. */
export * from './journal';
export { BooksReason, booksError, booksReasonOf, isRetryableBooksError, type BooksErrorDetails } from './errors';
export * from './limiter';
export * from './tokens';
export * from './xero.client';
export * from './myob.client';

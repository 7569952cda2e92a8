/** A UUID in its canonical 8-4-4-4-12 hex form, any case: the platform's one check for ids it is given. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (v: string): boolean => UUID_PATTERN.test(v);

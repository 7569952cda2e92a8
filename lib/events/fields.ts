import { z } from 'zod';
import { UUID_PATTERN } from '../uuid';

/** Field schemas shared by the live-event catalog and the durable job facts. */
export const uuid = z.string().regex(UUID_PATTERN, 'not a uuid');
export const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO timestamp');

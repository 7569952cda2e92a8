/** The line a chaos workers process prints once it is up (shared by the harness and the entry). */
export const WORKERS_UP = 'chaos: workers up';

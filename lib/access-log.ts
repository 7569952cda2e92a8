import type { ApolloServerPlugin } from '@apollo/server';
import { noteRequest } from './logger';

/** Tells the request's access-log line (lib/http) which GraphQL operation ran and the code of its first error. */
export const accessLogPlugin: ApolloServerPlugin = {
  requestDidStart() {
    return Promise.resolve({
      willSendResponse({ request, operation, operationName, response }) {
        const name = operationName ?? operation?.name?.value ?? request.operationName;
        const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
        const code = errors?.[0]?.extensions?.code;
        noteRequest({
          operation: name && /^\w{1,100}$/.test(name) ? name : undefined,
          errorCode: typeof code === 'string' ? code : undefined,
        });
        return Promise.resolve();
      },
    });
  },
};

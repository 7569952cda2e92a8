import { GraphQLClient, gql } from 'graphql-request';
import { AppError } from '../lib/errors';
import type { AuthService } from '../subgraphs/tenant/identity/auth.service';

export const DEMO_EMAIL = 'demo@liquidabt.local';

/**
 * Seeds the demo tenant once: its OWNER signs up, then creates a 10% revenue rule through the
 * gateway like any client would. A second start finds the user and changes nothing.
 */
export async function seedDemoTenant(auth: AuthService, gatewayUrl: string, password: string): Promise<'created' | 'exists'> {
  let token: string;
  try {
    token = (await auth.signUp({ tenantName: 'Demo Coffee Roasters Pty Ltd', email: DEMO_EMAIL, password })).accessToken;
  } catch (err) {
    if (err instanceof AppError && err.code === 'EMAIL_TAKEN') return 'exists';
    throw err;
  }
  const client = new GraphQLClient(gatewayUrl, { headers: { authorization: `Bearer ${token}` } });
  await client.request(
    gql`
      mutation Seed($input: TreasuryRuleInput!) {
        createTreasuryRule(input: $input) {
          id
        }
      }
    `,
    {
      input: {
        name: '10% of card revenue',
        type: 'PERCENTAGE_OF_REVENUE',
        percentageBps: 1000,
        minOrderAudCents: '2500',
        dailyCapAudCents: '500000',
        monthlyCapAudCents: '5000000',
      },
    },
  );
  return 'created';
}

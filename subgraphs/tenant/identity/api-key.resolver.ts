import { Arg, Ctx, Field, ID, InputType, Mutation, Query, Resolver } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import { ApiKey } from './api-key.entity';
import { ApiKeyCreated } from './tenant.entity';
import type { TenantServices } from './tenant.resolver';

type Ctx = SubgraphContext<TenantServices>;

@InputType('CreateApiKeyInput')
class CreateApiKeyInput {
  @Field(() => String) name!: string;
  @Field(() => [String], { description: 'read:treasury, write:purchases, read:compliance, read:market.' }) scopes!: string[];
  @Field(() => Date, { nullable: true }) expiresAt?: Date | null;
}

@Resolver()
export class ApiKeyResolver {
  @Query(() => [ApiKey], { description: 'The tenant’s API keys (never their secrets), newest first.' })
  apiKeys(@Ctx() ctx: Ctx): Promise<ApiKey[]> {
    return ctx.services.auth.apiKeys.list(ctx.gate.require(ctx, 'apikey:read'));
  }

  @Mutation(() => ApiKeyCreated, { description: 'Creates a key; the full key is in this response only.' })
  createApiKey(@Ctx() ctx: Ctx, @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<ApiKeyCreated> {
    return ctx.services.auth.apiKeys.create(ctx.gate.require(ctx, 'apikey:manage'), input);
  }

  @Mutation(() => ApiKey, { description: 'Revokes a key at once; requests with it are UNAUTHENTICATED.' })
  revokeApiKey(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<ApiKey> {
    return ctx.services.auth.apiKeys.revoke(ctx.gate.require(ctx, 'apikey:manage'), id);
  }
}

import type { PlatformModule } from '../lib/module';
import { complianceModule } from '../subgraphs/compliance/module';
import { marketPriceModule } from '../subgraphs/market-price/module';
import { tenantModule } from '../subgraphs/tenant/module';
import { treasuryModule } from '../subgraphs/treasury/module';

/** Every domain module, in the order the platform starts them (a module's ports are built before any role uses them). */
export const MODULES: readonly PlatformModule[] = [tenantModule, treasuryModule, marketPriceModule, complianceModule];

import { sha256Hex } from './manifest';
import { inManifest } from './safelist';

const BODY = 'query PartnerTenant {\n  tenant {\n    id\n  }\n}';
const ID = sha256Hex(BODY);
const manifest = new Map([[ID, BODY]]);

describe('the partner safelist check', () => {
  it('accepts a manifest operation by id (Apollo’s persistedQuery.sha256Hash) or by identical body', () => {
    expect(inManifest({ sha256Hash: ID }, manifest)).toBe(true);
    expect(inManifest({ query: BODY }, manifest)).toBe(true);
    expect(inManifest({ query: BODY, sha256Hash: ID }, manifest)).toBe(true);
  });

  it('refuses anything else: other text, unknown ids, a manifest id paired with another body', () => {
    expect(inManifest({ query: '{ tenant { id } }' }, manifest)).toBe(false);
    expect(inManifest({ query: `${BODY} ` }, manifest)).toBe(false);
    expect(inManifest({ sha256Hash: sha256Hex('{ me { id } }') }, manifest)).toBe(false);
    expect(inManifest({ query: '{ me { id } }', sha256Hash: ID }, manifest)).toBe(false);
    expect(inManifest({}, manifest)).toBe(false);
  });
});

/**
 * OIDC bearer tokens (src/api/oidc.ts through ApiTokens): JWTs signed by keys the tokens file trusts name a user and
 * roles by the configured claims; a token that fails any check (signature, algorithm, issuer, audience, times, name)
 * names nobody; static tokens keep working beside them.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiTokens, InvalidTokensFileError } from '../../src/api/auth';

const ISSUER = 'https://id.example.test/realms/web';
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function jwt(key: KeyObject, alg: 'RS256' | 'ES256' | 'EdDSA', claims: Record<string, unknown>, kid?: string): string {
  const head = `${b64({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(claims)}`;
  const signature = alg === 'EdDSA' ? sign(null, Buffer.from(head), key)
    : sign('sha256', Buffer.from(head), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${head}.${signature.toString('base64url')}`;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

const tokens = new ApiTokens({
  users: [{ name: 'robot', roles: ['DEVELOPER'], token: 'a-static-token-0001' }],
  oidc: {
    issuer: ISSUER, audience: 'stagecoach',
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1' },
      { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed-1' },
    ],
    roleMap: { 'release-managers': ['DEPLOYMENT_MANAGER'], owners: ['BUSINESS_OWNER'] },
  },
});
const good = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER, aud: ['account', 'stagecoach'], exp: now() + 300, iat: now(), preferred_username: 'alice', groups: ['release-managers', 'staff'], ...extra,
});

describe('OIDC bearer tokens', () => {
  it('a token signed by a trusted key (RS256, ES256, EdDSA) names the user, with roles from the mapped groups', () => {
    expect(tokens.userFor(jwt(rsa.privateKey, 'RS256', good(), 'rsa-1'))).toEqual({ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] });
    expect(tokens.userFor(jwt(ec.privateKey, 'ES256', good({ preferred_username: 'bob', groups: 'owners' }), 'ec-1'))).toEqual({ name: 'bob', roles: ['BUSINESS_OWNER'] });
    // A group that is itself a role name counts as that role; a key without a kid in the token is tried against all.
    expect(tokens.userFor(jwt(ed.privateKey, 'EdDSA', good({ groups: ['DEVELOPER'] })))).toEqual({ name: 'alice', roles: ['DEVELOPER'] });
    expect(tokens.userFor('a-static-token-0001')).toEqual({ name: 'robot', roles: ['DEVELOPER'] });
  });

  it('names nobody for a token that fails any check', () => {
    const refused = {
      'another key': jwt(stranger.privateKey, 'RS256', good(), 'rsa-1'),
      'another issuer': jwt(rsa.privateKey, 'RS256', good({ iss: 'https://evil.test/' }), 'rsa-1'),
      'another audience': jwt(rsa.privateKey, 'RS256', good({ aud: 'other-app' }), 'rsa-1'),
      expired: jwt(rsa.privateKey, 'RS256', good({ exp: now() - 120 }), 'rsa-1'),
      'without exp': jwt(rsa.privateKey, 'RS256', good({ exp: undefined }), 'rsa-1'),
      'not yet valid': jwt(rsa.privateKey, 'RS256', good({ nbf: now() + 600 }), 'rsa-1'),
      'a bad user name': jwt(rsa.privateKey, 'RS256', good({ preferred_username: 'alice smith<script>' }), 'rsa-1'),
      'no user claim': jwt(rsa.privateKey, 'RS256', good({ preferred_username: undefined }), 'rsa-1'),
      'alg none': `${b64({ alg: 'none' })}.${b64(good())}.`,
      'alg HS256': `${b64({ alg: 'HS256' })}.${b64(good())}.${Buffer.from('x').toString('base64url')}`,
      'a changed payload': (() => { const [h, , s] = jwt(rsa.privateKey, 'RS256', good(), 'rsa-1').split('.'); return `${h}.${b64(good({ preferred_username: 'mallory' }))}.${s}`; })(),
      'an unknown kid': jwt(rsa.privateKey, 'RS256', good(), 'rsa-2'),
    };
    for (const [why, token] of Object.entries(refused)) expect(tokens.userFor(token), why).toBeUndefined();
  });

  it('refuses a configuration with a role that is not one, or neither users nor oidc', () => {
    expect(() => new ApiTokens({ oidc: { issuer: ISSUER, audience: 'x', keys: [rsa.publicKey.export({ format: 'jwk' }) as Record<string, unknown>], roleMap: { admins: ['ROOT'] } } }))
      .toThrow(/oidc.roleMap.admins: "ROOT" is not a role/);
    expect(() => new ApiTokens({ users: [] })).toThrow(InvalidTokensFileError);
    expect(() => new ApiTokens({ oidc: { issuer: ISSUER, audience: 'x' } } as never)).toThrow(/exactly one of keys or jwksFile/);
  });
});

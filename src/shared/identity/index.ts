/** Decisions by people one can prove: SSH ed25519 keys, SSHSIG signatures, signed decisions and their verification. */
export { base64Decode, base64Encode, hex, utf8Encode } from './bytes';
export {
  canonicalJson, decisionBytes, decisionText, normalizeEmail, normalizeName, proofId, sameName,
  type Decision, type DecisionArgs, type JsonValue, type Proof,
} from './decision';
export { formatPublicKey, parsePublicKey, publicKeyFromRaw, type SshPublicKey } from './ssh-key';
export {
  SIGNATURE_NAMESPACE, armorSignature, encodeSignature, parseSignature, signatureValid, signedData,
  type SshSigHash, type SshSignature,
} from './sshsig';
export {
  DECLARED_TRUST, keyMatches, verifyDecision, type ExpectedDecision, type IdentityProvider, type RefusalCode, type RevokedKey, type Trust,
  type TrustModel, type TrustedPerson, type Verdict,
} from './verify';

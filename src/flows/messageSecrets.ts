// Values only the dispatcher puts into a message, derived under the server secret at delivery: codes and report links.
import { deriveCode } from '../domain/code.js';
import { reportToken } from '../domain/reportToken.js';
import { CONFIRMATION_CODE_TEMPLATE } from './accountSecurity.js';
import { PHONE_CHANGE_CODE_TEMPLATE } from './changePhone.js';
import { confirmationCodeInput } from './confirmations.js';
import { NEW_DEVICE_TEMPLATE } from './notifyNewDeviceSignIn.js';
import type { QueuedMessage } from './ports.js';
import { VERIFICATION_CODE_TEMPLATE } from './sendChallengeCode.js';

/** Templates that carry a code: not worth sending once the code has expired. */
export const CODE_TEMPLATES = new Set([VERIFICATION_CODE_TEMPLATE, PHONE_CHANGE_CODE_TEMPLATE, CONFIRMATION_CODE_TEMPLATE]);

export function messageSecrets(message: QueuedMessage, secret: string, publicUrl: URL): Record<string, string> {
  const { payload } = message;
  if (message.template === VERIFICATION_CODE_TEMPLATE) {
    return { code: deriveCode(secret, String(payload.challengeId), Number(payload.codeLength)) };
  }
  if (message.template === PHONE_CHANGE_CODE_TEMPLATE || message.template === CONFIRMATION_CODE_TEMPLATE) {
    const purpose = message.template === PHONE_CHANGE_CODE_TEMPLATE ? 'phone' : 'disable_authorization';
    return { code: deriveCode(secret, confirmationCodeInput(purpose, String(payload.changeId)), Number(payload.codeLength)) };
  }
  if (message.template === NEW_DEVICE_TEMPLATE && typeof payload.reportId === 'string') {
    return { reportUrl: new URL(`/report/${reportToken(secret, payload.reportId)}`, publicUrl).toString() };
  }
  return {};
}

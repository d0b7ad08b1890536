// The error a transport throws when its peer did not take a message; `permanent` means a retry cannot help.

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
  }
}

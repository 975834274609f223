// The one WebExtension namespace, whichever browser runs us.
//
// Firefox has the promise-based `browser.*`; Chromium (MV3) has `chrome.*`, whose functions also
// return promises when called without a callback.  Every other file imports `ext` from here and
// never names either global itself.
export const ext = globalThis.browser ?? globalThis.chrome;

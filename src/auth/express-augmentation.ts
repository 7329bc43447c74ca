/**
 * Types `req.auth` for Express users. Part of the published types of `@ux-flow/common/auth`;
 * when `@types/express` is not installed the augmentation has nothing to merge into and is
 * inert (with `skipLibCheck`, the usual setting).
 */
import type { AuthContext } from './auth-context.js';
import type {} from 'express-serve-static-core';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `@ux-flow/common/auth` middleware once the request is authenticated. */
    auth?: AuthContext | undefined;
  }
}

export {};

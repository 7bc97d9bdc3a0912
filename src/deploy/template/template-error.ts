/**
 * @module deploy/template/template-error
 * A deployment template that cannot be resolved or written: a missing chart value, or a shape
 * the emitters do not support. These are mistakes in src/deploy, found by the generator's tests.
 */
import { FlannelError } from '../../errors/index.ts';

export class TemplateError extends FlannelError {
  constructor(message: string) {
    super('E_DEPLOY_TEMPLATE', message, { hint: 'fix the objects in src/deploy and run "npm run generate:deploy"' });
  }
}

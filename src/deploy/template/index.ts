/**
 * @module deploy/template
 * Typed Kubernetes objects with chart-value placeholders, resolved to a manifest or written as a
 * Helm chart from the same tree.
 */
export { templateKit, when, interp, jsonText, isTplNode, type Tpl, type Ref, type Cond, type When, type Interp, type JsonText, type Splice, type JsonValue, type Paths, type At, type TemplateKit } from './tpl.ts';
export { resolve } from './resolve.ts';
export { emitYaml, type YamlEmitOptions } from './yaml-emit.ts';
export { condAction } from './actions.ts';
export { lookup, truthy, holds } from './values-access.ts';
export { TemplateError } from './template-error.ts';

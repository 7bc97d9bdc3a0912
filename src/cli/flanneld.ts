#!/usr/bin/env node
/**
 * flanneld's entry point. It applies the V8 settings first (v8-tuning.ts) and only then loads
 * the daemon: with a static import the whole module graph would be parsed and compiled before
 * any module ran, under V8's defaults (that costs ~5 MiB of RSS for the life of the process).
 */
import './v8-tuning.ts';

await import('./flanneld-main.ts');

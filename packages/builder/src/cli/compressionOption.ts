import { Option } from 'commander';

export function compressionOption(): Option {
  return new Option('--compression <kind>', 'layer compression').choices(['gzip', 'zstd', 'none']).default('gzip');
}

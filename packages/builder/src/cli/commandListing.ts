import { Command, Help } from 'commander';
import type { CommandListing } from './commandModules.js';

const listings = new WeakMap<Command, CommandListing>();

/**
 * A command that is only listed, its module not loaded: top-level help shows it as its
 * module would register it. Nothing dispatches to it (see modulesToLoad).
 */
export function listedCommand(listing: CommandListing): Command {
  const command = new Command(listing.name).aliases(listing.aliases ?? []).description(listing.summary);
  listings.set(command, listing);
  return command;
}

/**
 * Help that lists a listed command by its listing's usage; commander derives a command's
 * usage from the options and arguments its module registers, which a listed command has not.
 */
export const listingHelp: Partial<Help> = {
  subcommandTerm(this: Help, command: Command): string {
    const listing = listings.get(command);
    if (!listing) return Help.prototype.subcommandTerm.call(this, command);
    return [`${listing.name}${listing.aliases?.[0] ? `|${listing.aliases[0]}` : ''}`, listing.usage].filter(Boolean).join(' ');
  },
};

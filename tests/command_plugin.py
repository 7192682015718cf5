"""A plugin that only adds a command, loaded with ROADCAM_PLUGINS=command_plugin
(tests/test_core_promise.py): ``roadcam greet NAME [--shout]`` prints a greeting;
``roadcam greet --fail`` raises a ConfigError (the command line makes it one message, exit 2)."""

from roadcam.appliance.hookspecs import hookimpl


class Greeter:
    @hookimpl
    def roadcam_register_commands(self, commands):
        greet = commands.add_parser("greet", help="greet someone (a test plugin's command)")
        greet.add_argument("name", nargs="?", default="world")
        greet.add_argument("--shout", action="store_true")
        greet.add_argument("--fail", action="store_true")
        greet.set_defaults(handler=greet_command)


def greet_command(args) -> int:
    if args.fail:
        from roadcam.appliance.cli import ConfigError  # whatever module holds it today

        raise ConfigError("greet: told to fail")
    text = f"hello, {args.name}"
    print(text.upper() if args.shout else text)
    return 3 if args.name == "three" else 0


plugin = Greeter()

package olmes

// BuiltinTaskNames lists the built-in tasks over the world.
func BuiltinTaskNames() []string { return nil }

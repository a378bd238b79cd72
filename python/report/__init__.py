"""What the warehouse and its training runs show a human: the HTML report of a run
(`sniper report`) and the facts behind the one-screen `sniper status`."""

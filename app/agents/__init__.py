"""The participants of a simulated conversation: the data agent, CJ and the merchant."""
